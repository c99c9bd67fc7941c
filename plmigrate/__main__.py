"""`python -m plmigrate`: the same as the `plmigrate` command."""

import sys

from plmigrate.cli import main

sys.exit(main())
