import sys

from mllab.cli.main import main

sys.exit(main())
