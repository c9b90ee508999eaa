import sys

from trirl.cli import main

sys.exit(main())
