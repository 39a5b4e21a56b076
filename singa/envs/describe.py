"""``python -s -m singa.envs.describe``: print this interpreter's ``PlatformFacts`` as one JSON line
(``{"python": "3.11", "tag": "cp311-cp311-manylinux_2_36_x86_64", "distributions": [[name, version], ...]}``).
What a template's sandbox runs so that its environment is built for what model code there sees."""
import json
import sys

from singa.envs.platform import PlatformFacts


def main() -> int:
    print(json.dumps(PlatformFacts.here().to_dict()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
