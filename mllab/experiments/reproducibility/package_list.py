"""Print this interpreter's installed distributions as one JSON line:
``python -m mllab.experiments.reproducibility.package_list`` (run on the host and inside
containers, whose venv has no pip). Standard library only, so that it runs in any environment
with this tree on its path."""

from __future__ import annotations

import importlib.metadata
import json
import sys


def distributions() -> dict[str, str]:
    """``{name as the distribution spells it: version}`` of every installed distribution."""
    return {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}


def main() -> int:
    print(json.dumps(distributions()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
