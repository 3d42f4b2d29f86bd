import sys

from corecue.cli import main

sys.exit(main())
