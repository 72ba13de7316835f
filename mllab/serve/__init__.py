"""The inference server (runs in the slim image: never torch, onnx or docker).

``config`` (ENV) -> ``model`` (sha256-checked ONNX Runtime session) -> ``bodies`` (request
bodies, limits) -> ``api`` (FastAPI routes) -> ``app`` (``python -m mllab.serve.app``);
``client`` (the three body kinds) and ``process`` (the server in a subprocess, waiting until a
URL answers) are how labs and tests talk to it.
"""
