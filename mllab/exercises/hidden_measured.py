"""The hidden cases of the exercises judged by a measurement (labs 02, 06, 07).

Like :mod:`mllab.exercises.hidden_cases` (and merged into its ``SPECS``): each exercise draws
groups of cases from a seeded generator, each group checks one idea of the lecture and carries
a share of the points, and the expected side of each case is made before the student's
function runs. Here the comparison itself measures the answer:

* ``ex02_limits`` (lab 07): made-up calls per ``--cpus`` quota; the answer is compared with
  what the calls show (:func:`mllab.exercises.lab07.limits_problem`).
* ``ex01_deterministic`` (lab 06): small convolution models made here (with and without a
  BatchNormalization that any graph optimisation folds); the answer's options are run against
  ONNX Runtime's defaults and the graph as written (:func:`mllab.exercises.lab06.try_options`).
* ``ex02_binary_client`` (lab 02): a stand-in server (labelled: ResNet-50's interface in three
  nodes, served by the kit's own server in a subprocess behind the kit's recording proxy);
  the answer is judged by what it sent and by its logits
  (:func:`mllab.exercises.lab02.client_problem`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mllab.exercises import lab02, lab06, lab07
from mllab.exercises.check import show
from mllab.exercises.hidden_run import Case, Group, Spec
from mllab.exercises.lab02_wire import stand_in_server
from mllab.runtime import sessions
from mllab.serve import client

Rng = np.random.Generator


# --- lab 07: limits from the measured calls ---------------------------------------------------


def _limits_compare(
    answer: Any, expected: tuple[dict[float, list[float]], list[float]]
) -> str | None:
    latencies, right = expected
    return lab07.limits_problem(answer, latencies, right)


def _limits_case(rng: Rng, what: str) -> Case:
    seed = int(rng.integers(1 << 30))
    if what == "knee":
        quotas = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
        knee = float(rng.choice([1.0, 1.5, 2.0, 3.0]) + rng.uniform(-0.2, 0.2))
        calls = lab07.made_up_latencies(seed, knee, quotas, 0.01)
    elif what == "flat":
        quotas = [0.5, 1.0, 2.0, 3.0, 4.0]
        calls = lab07.made_up_latencies(seed, 1.0, quotas, 0.06, tail=0.015, calls=30)
    else:  # fractional quotas: the threads a quota of 1.5 or 2.5 CPUs runs at once
        quotas = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        knee = float(rng.choice([1.5, 2.5]))
        calls = lab07.made_up_latencies(seed, knee, quotas, 0.01)
    medians = ", ".join(f"{c:g}: {np.median(v):.0f}" for c, v in calls.items())
    expected = (calls, lab07.accepted_quotas(calls))
    return Case(f"calls per --cpus quota (medians, ms: {medians})", (calls,), expected)


def _limits_groups(rng: Rng) -> list[Group]:
    def group(name: str, share: float, what: str) -> Group:
        return Group(name, share, [_limits_case(rng, what) for _ in range(3)], _limits_compare)

    return [
        group("a knee inside the sweep: the smallest quota no larger one beats", 0.4, "knee"),
        group("a lower median within the calls' spread is noise, not a gain", 0.3, "flat"),
        group("fractional quotas: the threads a quota runs at once", 0.3, "threads"),
    ]


# --- lab 06: deterministic options against the defaults ---------------------------------------


def conv_model(rng: Rng, channels: int, batch_norm: bool) -> bytes:
    """Conv(3→c) [+ BatchNormalization] + Relu + Conv(c→c) + Relu + pooling + MatMul(c→10),
    input ``(N, 3, 16, 16)``: small, and wide enough that ONNX Runtime's default graph (its
    layout for this CPU, and any fusion) computes other float sums than the graph as written."""
    from onnx import TensorProto, helper, numpy_helper  # the onnx package: only for the cases

    def tensor(name: str, shape: tuple[int, ...], scale: float, low: float = 0.0) -> Any:
        values = rng.standard_normal(shape) * scale if not low else rng.uniform(low, 2.0, shape)
        return numpy_helper.from_array(values.astype(np.float32), name)

    weights = [
        tensor("w1", (channels, 3, 3, 3), 0.3),
        tensor("w2", (channels, channels, 3, 3), 0.1),
        tensor("g", (channels, 10), 1.0),
    ]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1])]
    first = "a"
    if batch_norm:
        weights += [tensor("scale", (channels,), 0, 0.5), tensor("bias", (channels,), 1.0)]
        weights += [tensor("mean", (channels,), 1.0), tensor("var", (channels,), 0, 0.5)]
        names = ["a", "scale", "bias", "mean", "var"]
        nodes.append(helper.make_node("BatchNormalization", names, ["bn"]))
        first = "bn"
    nodes += [
        helper.make_node("Relu", [first], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["d"]),
        helper.make_node("GlobalAveragePool", ["d"], ["e"]),
        helper.make_node("Flatten", ["e"], ["f"]),
        helper.make_node("MatMul", ["f", "g"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hidden",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _options_compare(answer: Any, expected: tuple[bytes, np.ndarray, int]) -> str | None:
    model, x, threads = expected
    if not isinstance(answer, lab06.ort.SessionOptions):
        return f"return an onnxruntime.SessionOptions, not {show(answer)}"
    return lab06.options_problem(lab06.try_options(answer, model, x, threads))


def _options_case(rng: Rng, batch_norm: bool) -> Case:
    """A model on which the defaults are off the graph as written by more than ε (drawn
    again until they are: the case must be able to tell the options apart)."""
    threads = int(rng.integers(2, 5))
    for _ in range(6):
        model = conv_model(rng, 64 if batch_norm else 32, batch_norm)
        x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
        control = lab06.try_options(lab06.default_options(threads), model, x, threads)
        if control.control_to_graph > 2 * lab06.LECTURE_EPSILON:
            break
    what = "with a BatchNormalization" if batch_norm else "of convolutions"
    return Case(f"a model {what}, {threads} threads", (threads,), (model, x, threads))


def _options_groups(rng: Rng) -> list[Group]:
    def group(name: str, share: float, batch_norm: bool) -> Group:
        cases = [_options_case(rng, batch_norm) for _ in range(2)]
        return Group(name, share, cases, _options_compare)

    return [
        group("convolutions: the defaults' layout for this CPU is off by more than ε", 0.5, False),
        group("a BatchNormalization: a folding of any optimisation level shows", 0.5, True),
    ]


# --- lab 02: the binary client, judged by what it sends ----------------------------------------


def _client_groups(rng: Rng) -> list[Group]:
    server = stand_in_server()

    def case(n: int, strided: bool) -> Case:
        x = rng.standard_normal((n * (2 if strided else 1), 3, 224, 224)).astype(np.float32)
        x = x[::2] if strided else x
        how = "a strided view (not C-contiguous)" if strided else "C-contiguous"
        expected = (server, server.expected(x), x.nbytes)
        return Case(f"a batch of {n} ({how}) to the stand-in server", (server.url, x), expected)

    compare: Callable[[Any, Any], str | None] = _client_compare
    return [
        Group("a batch of one: the logits", 0.3, [case(1, False)], _logits_compare),
        Group("what goes on the wire: a binary body, not text", 0.4, [case(3, False)], compare),
        Group("a view of a larger batch: its own rows, as float32", 0.3, [case(2, True)], compare),
    ]


def _logits_compare(answer: Any, expected: tuple[Any, np.ndarray, int]) -> str | None:
    server, logits, _nbytes = expected
    server.take()  # what was sent is judged in the other groups
    return lab02.logits_problem(answer, logits)


def _client_compare(answer: Any, expected: tuple[Any, np.ndarray, int]) -> str | None:
    server, logits, nbytes = expected
    return lab02.logits_problem(answer, logits) or lab02.wire_problem(server.take(), nbytes)


def specs() -> list[Spec]:
    """The hidden tests of this module's exercises."""
    return [
        Spec(
            "ex02_limits",
            "choose_limits",
            lab07.SECTION,
            (lab07.reference_limits, lab07.smallest_unbeaten, lab07.accepted_quotas),
            _limits_groups,
        ),
        Spec(
            "ex01_deterministic",
            "deterministic_options",
            lab06.SECTION_C6,
            (lab06.reference_options, sessions.session_options),
            _options_groups,
        ),
        Spec(
            "ex02_binary_client",
            "send_binary_batch",
            lab02.SECTION_CLIENT,
            (client.predict_tensor, client.predict_json),
            _client_groups,
        ),
    ]
