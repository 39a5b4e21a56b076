"""``python -s -m singa.sandbox.launch LIMITS_JSON ARGV...``: lower this process's resource limits
to ``LIMITS_JSON`` (``{name: value}``, as ``SandboxLimits.rlimits()``), then become
``python -s ARGV``. How a sandbox runs a one-off program (``BaseSandbox.run``) within the limits
it gives model code; no program it starts can raise them again."""
import json
import os
import sys

from singa.sandbox.child import lower_limits


def main(argv: list) -> int:
    if len(argv) < 2:
        print('usage: python -m singa.sandbox.launch LIMITS_JSON ARGV...', file=sys.stderr)
        return 2
    lower_limits(json.loads(argv[0]))
    os.execv(sys.executable, [sys.executable, '-s', *argv[1:]])
    return 1      # not reached


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
