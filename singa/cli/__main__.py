"""``python -m singa.cli``: the ``singa`` command."""
import sys

from singa.cli import main

sys.exit(main())
