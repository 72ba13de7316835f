"""``mllab pipeline run [--to STAGE] [--release X.Y.Z] [--model PATH] [--json]``: lab 08's
Build → Test → Tag → Push → Deploy (``deploy/ci/*.yml`` call the same command, one job per
stage).

Exit code 0 when every stage asked for ran, 1 when one failed (the ones after it did not run:
the table says why), 2 on bad input (nothing ran). Heavy modules (the docker SDK, onnxruntime)
are imported when the handler runs, so that ``mllab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json

from mllab.core.records import as_fields

STAGES = ("build", "test", "tag", "push", "deploy")  # checked equal to the pipeline's in tests


def _cmd_run(args: argparse.Namespace) -> int:
    # deferred: the pipeline imports the docker SDK, onnxruntime and httpx
    from mllab.experiments.delivery.pipeline import run_pipeline, stage_table

    run = run_pipeline(
        release=args.release,
        model=args.model,
        to=args.to,
        registry=args.registry,
        replicas=args.replicas,
    )
    if args.json:
        print(json.dumps(as_fields(run), indent=1))
    else:
        print(stage_table(run))
        if run.reference:
            print(f"image: {run.reference}")
        if run.url:
            print(f"deployed at {run.url}; remove it with: mllab deploy down")
    return 0 if run.ok else 1


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """``mllab pipeline run``."""
    group = sub.add_parser("pipeline", help="lab 08: build -> test -> tag -> push -> deploy")
    commands = group.add_subparsers(dest="pipeline_command", required=True)
    run = commands.add_parser(
        "run",
        help="run the pipeline up to a stage (default: deploy)",
        description=(
            "Build the slim image of the model as RELEASE-build.N, test it (Δ container vs host "
            "<= 1e-3, top-1, the model's sha256 in the image = the file's = the label), tag it "
            "(never overwriting a version), push it to the registry (REGISTRY=host:port, else "
            "the kit's, started and stopped) and deploy it by digest on the swarm stack "
            "mllab08. A failing stage blocks the ones after it."
        ),
    )
    run.add_argument("--to", choices=STAGES, default="deploy", help="the last stage to run")
    run.add_argument("--release", default="1.0.0", help="MAJOR.MINOR.PATCH (default 1.0.0)")
    run.add_argument("--model", default=None, help="the ONNX model (default: the kit's export)")
    run.add_argument("--registry", default=None, help="host:port to push to (default: REGISTRY)")
    run.add_argument("--replicas", type=_positive, default=2, help="replicas at deploy (2)")
    run.add_argument("--json", action="store_true", help="print the PipelineRun record as JSON")
    run.set_defaults(func=_cmd_run)
