"""Layer 8: the ``mllab`` command line (argparse only here), one module per command group."""
