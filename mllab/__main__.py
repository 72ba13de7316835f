import sys

from mllab.cli import main

sys.exit(main())
