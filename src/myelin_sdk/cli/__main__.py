"""``python -m myelin_sdk.cli ARGS``: the ``myelin`` command."""

import sys

from .main import main

sys.exit(main())
