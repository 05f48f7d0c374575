"""`python -m ingressd`."""

import sys

from ingressd.cli import main

sys.exit(main())
