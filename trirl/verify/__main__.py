import sys

from trirl.verify import main

sys.exit(main())
