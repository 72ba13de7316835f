"""The peer server: KServe's Python ``ModelServer`` wrapping the same ONNX Runtime session.

Run in its own virtual environment (``artifacts/kserve-venv``, made by
:func:`mllab.experiments.serving.peer.kserve_python`: KServe pins protobuf < 7, the kit does
not), with the repository on ``PYTHONPATH``::

    artifacts/kserve-venv/bin/python -m mllab.experiments.serving.kserve_model \\
        --model m.onnx --name resnet50 --threads 2 --http_port 8081

It serves the Open Inference Protocol v2 (``/v2/models/{name}/infer``, JSON and binary
tensors), as KServe's documentation writes a custom model: a ``kserve.Model`` whose
``predict`` takes an ``InferRequest`` and answers an ``InferResponse``. The session comes from
:func:`mllab.runtime.sessions.create_session` with the server's options (no spinning), so
both servers run the very same session configuration.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mllab.runtime.sessions import SessionConfig, create_session

if TYPE_CHECKING:  # annotations only: kserve exists only in the peer's virtual environment
    import kserve


def build_model(name: str, path: str, threads: int | None) -> kserve.Model:
    """A loaded ``kserve.Model`` named ``name`` running ``path`` with ``threads`` threads."""
    import kserve  # deferred: installed only in the peer's own virtual environment

    class OnnxModel(kserve.Model):
        def load(self) -> bool:
            config = SessionConfig(threads=threads, allow_spinning=False)
            self.session = create_session(path, config)
            self.input_name = self.session.get_inputs()[0].name
            self.output_name = self.session.get_outputs()[0].name
            self.ready = True
            return self.ready

        def predict(
            self, payload: kserve.InferRequest, headers: dict[str, str] | None = None
        ) -> kserve.InferResponse:
            x = payload.inputs[0].as_numpy()
            logits = self.session.run([self.output_name], {self.input_name: x})[0]
            output = kserve.InferOutput(self.output_name, list(logits.shape), "FP32")
            output.set_data_from_numpy(logits, binary_data=True)
            # A client need not send an id (KServe's response model requires a string); the
            # binary tensor extension answers binary only when the response is told what the
            # request asked for.
            return kserve.InferResponse(
                payload.id or "",
                self.name,
                [output],
                use_binary_outputs=payload.use_binary_outputs,
                requested_outputs=payload.request_outputs,
            )

    model = OnnxModel(name)
    model.load()
    return model


def main(argv: list[str] | None = None) -> int:
    """Parse the kit's flags, leave the rest (``--http_port``, ``--workers``...) to KServe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--name", default="resnet50")
    parser.add_argument("--threads", type=int)
    args, rest = parser.parse_known_args(argv)
    sys.argv = [sys.argv[0], *rest]  # KServe's ModelServer parses sys.argv itself
    import kserve  # deferred: installed only in the peer's own virtual environment

    model = build_model(args.name, args.model, args.threads)
    kserve.ModelServer().start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
