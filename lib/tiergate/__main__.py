"""`python -m tiergate`, the same as the `tiergate` command."""

import sys

from .cli import main

sys.exit(main())
