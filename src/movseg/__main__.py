import sys

from movseg.cli import main

sys.exit(main())
