"""``python -m finelabel.cli``: the same as the ``finelabel`` command."""

import sys

from finelabel.cli import main

sys.exit(main())
