"""Lab 02: the inference server, run exactly as the container will run it.

The kit's server (``python -m mllab.serve.app``, FastAPI + uvicorn, configured by ENV) answers
three body kinds on ``POST /predict`` and the Open Inference Protocol (v2) that Triton's own
client speaks; the lab checks f_prod(x) = f(x) against ONNX Runtime in this process, measures
what HTTP costs per body kind, what dynamic batching and overload do, and what the lecture's
Flask ``server.py`` does as written and corrected (claim C12).

The kit vocabulary of ``labs/02_inference_server.ipynb``, in groups:

- the model and the server process
- the body kinds of ``POST /predict``: an image, a binary tensor, the lecture's JSON list
- the v2 binary tensor extension, and the drift between two answers
- f_prod(x) = f(x) and what HTTP costs (read against the goal: ``read_overhead``)
- many requests at once: dynamic batching (what it did here: ``read_batching``), overload
- the lecture's Flask service
- the exercises ex02_binary_client and ex02_flask_fix
- tables, the record and the verdict on C12
"""

from __future__ import annotations

from mllab.core.records import load_all, record
from mllab.core.tables import format_table, labelled
from mllab.exercises.hidden import hidden_tests
from mllab.exercises.lab02 import check_binary_client, check_flask_fix
from mllab.experiments.serving.batching import batching_sweep, plot_batching
from mllab.experiments.serving.flask_demo import (
    LectureFlask,
    flask_workdir,
    lecture_source,
    run_lecture_flask,
)
from mllab.experiments.serving.http_overhead import measure_overhead, server_parity
from mllab.experiments.serving.overload import overload
from mllab.measure.drift import TUTORIAL_ATOL, compare
from mllab.model.artifacts import default_model
from mllab.model.preprocess import preprocess, sample_images
from mllab.report.claims import judge
from mllab.report.interpret.serving import read_batching, read_overhead
from mllab.report.lab_summary import lab_pages
from mllab.runtime.sessions import create_session
from mllab.serve.bodies import json_body, npy_bytes
from mllab.serve.client import predict_image, predict_json, predict_tensor, served_model
from mllab.serve.process import start_server
from mllab.serve.v2_binary import HEADER_LENGTH, binary_request

plan, summary = lab_pages("02")  # every lab's opening and closing cells (kit-wide)

__all__ = [
    # the model and the server process
    "default_model",
    "start_server",
    "served_model",
    # POST /predict: an image, a binary tensor, the lecture's JSON list
    "sample_images",
    "preprocess",
    "predict_image",
    "predict_tensor",
    "predict_json",
    "json_body",
    "npy_bytes",
    # the v2 binary tensor extension; the drift between two answers
    "binary_request",
    "HEADER_LENGTH",
    "compare",
    # f_prod(x) = f(x), and what HTTP costs
    "create_session",
    "server_parity",
    "TUTORIAL_ATOL",
    "measure_overhead",
    "read_overhead",
    # many requests at once
    "batching_sweep",
    "plot_batching",
    "read_batching",
    "overload",
    # the lecture's Flask service
    "lecture_source",
    "run_lecture_flask",
    "flask_workdir",
    "LectureFlask",
    # the exercises (ex02_binary_client, ex02_flask_fix)
    "check_binary_client",
    "check_flask_fix",
    "hidden_tests",
    # tables, record, verdict
    "labelled",
    "format_table",
    "record",
    "load_all",
    "judge",
]
