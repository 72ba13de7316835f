"""``mllab claims``: TEMPORARY shim (phase A of the redesign); the owner moves the argparse code here."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from mllab.report.claims import add_cli

    add_cli(sub)
