"""A closed-loop gRPC load on the Open Inference Protocol's ``ModelInfer``, as locust loads REST.

Locust speaks HTTP; the protocol's gRPC service (:mod:`mllab.serve.grpc_server`, KServe,
Triton) is loaded here with Triton's own client, ``tritonclient.grpc``: ``concurrency`` users,
each with its own channel (its own TCP connection, as each locust user has its own), send
batch-1 raw tensors one after the other until ``requests`` were sent in all (the kit's
closed loop, :func:`mllab.measure.closed_loop.closed_loop`). Every request is answered or
failed before :func:`grpc_load` returns: unlike a stopped locust, it leaves nothing in flight.
Each user's channel is connected (one ``ServerLive``) before the clock starts. The users are
threads of this process; ``load_cpu_s`` is this process's CPU time during the load (the
caller runs nothing else meanwhile), as locust's own CPU seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mllab.core.errors import MllabError
from mllab.measure.closed_loop import closed_loop
from mllab.measure.stats import summarize

#: seconds one call may take before it counts as failed
CALL_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class GrpcLoadResult:
    """One bounded gRPC load: totals, latency percentiles of the answered calls, its CPU."""

    requests: int
    failures: int
    duration_s: float
    rps: float  # requests (answered or failed) per second of wall time
    p50_ms: float | None
    p99_ms: float | None
    load_cpu_s: float
    errors: dict[str, int]  # the failures' messages (first line), counted


def _client(address: str) -> Any:
    """A tritonclient gRPC client on a channel of its own (no shared subchannel)."""
    try:
        from tritonclient.grpc import InferenceServerClient  # type: ignore[import-untyped]
    except (ImportError, RuntimeError) as error:  # RuntimeError: tritonclient without grpcio
        raise MllabError(
            f"the gRPC load needs tritonclient[grpc] ({error}): install it in this environment"
        ) from None
    return InferenceServerClient(address, channel_args=[("grpc.use_local_subchannel_pool", 1)])


def grpc_load(
    address: str, model: str, x: np.ndarray, concurrency: int, requests: int
) -> GrpcLoadResult:
    """``requests`` ``ModelInfer`` calls of ``x`` to ``model`` at ``address`` (``host:port``)
    from ``concurrency`` users, closed loop."""
    if concurrency < 1 or requests < 1:
        raise MllabError(f"concurrency and requests must be >= 1, not {concurrency}, {requests}")
    from tritonclient.grpc import InferInput, InferRequestedOutput

    clients = [_client(address) for _ in range(concurrency)]
    try:
        meta = clients[0].get_model_metadata(model, as_json=True)
        input_name, output_name = meta["inputs"][0]["name"], meta["outputs"][0]["name"]
        for client in clients:  # connected before the clock starts
            client.is_server_live()
        tensors = [InferInput(input_name, list(x.shape), "FP32") for _ in clients]
        for tensor in tensors:  # encoded once per user, before the clock: each its own objects
            tensor.set_data_from_numpy(x)
        wanted = [[InferRequestedOutput(output_name)] for _ in clients]

        def infer(user: int) -> None:
            clients[user].infer(
                model, [tensors[user]], outputs=wanted[user], client_timeout=CALL_TIMEOUT_S
            )

        loop = closed_loop(infer, concurrency, requests, name="grpc-user")
    finally:
        for client in clients:
            client.close()
    latencies = loop.latencies_s
    stats = summarize(latencies, wall_s=loop.wall_s) if latencies else None
    return GrpcLoadResult(
        requests,
        loop.failures,
        loop.wall_s,
        loop.rps,
        stats.p50_ms if stats else None,
        stats.p99_ms if stats else None,
        loop.process_cpu_s,
        loop.errors,
    )
