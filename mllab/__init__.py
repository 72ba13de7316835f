"""mllab: a course lab kit for containerising and packaging ML models with Docker.

Notebooks in ``labs/`` narrate; the modules here compute. One module per lecture concept:

- ``env``      the environment E: fingerprint, diff, doctor
- ``engine``   a Docker engine that answers (installs and starts one where allowed)
- ``labs``     the papermill lab runner and its report
- ``models``   ResNet-50, weights policy, preprocessing, sample data
- ``export``   PyTorch -> ONNX, checks, metadata, sha256 integrity
- ``runtime``  ONNX Runtime sessions with verified providers
- ``serving``  the FastAPI inference server
- ``images``   base image, wheelhouse, building and running images
- ``bench``    latency/throughput harness, T(n) fit, benchmark suite
- ``repro``    drift matrices, reproducible builds, the lecture's claims
- ``resources`` CPU/memory limits, container overhead, load tests
"""

__version__ = "0.1.0"
