"""``python -m verireward.cli``: the ``verireward`` command."""

import sys

from verireward.cli.main import main

sys.exit(main())
