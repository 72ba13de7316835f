"""mllab: a course lab kit for containerising and packaging ML models with Docker.

Notebooks in ``labs/`` narrate; the package computes, in layers that follow the lecture (each
imports only from those below it; ``docs/ARCHITECTURE.md``, enforced by import-linter):

- ``core``         errors, paths, typed records, outcomes, tables, hashing
- ``runtime``      ONNX Runtime sessions with verified providers, NVIDIA facts, cgroup quotas
- ``measure``      statistics, the benchmark harness, T(n) fit, profiling, runners, drift Δ
- ``model``        ResNet-50, preprocessing, ONNX export and checks, INT8, fp16, integrity
- ``serve``        the FastAPI inference server, its client and its process
- ``containers``   the Docker engine, images (base, locks, wheelhouses, build, run), docker stats
- ``experiments``  one subpackage per lab topic: environment, serving, batching,
                   reproducibility, resources, delivery (lab 08: registry, pipeline, swarm)
- ``report``       the lecture's claims, one judge each; the lab runner and its report
- ``cli``          the ``mllab`` command
"""

__version__ = "0.1.0"
