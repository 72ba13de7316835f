"""Judges of the claims about figures: logits, Δ, η, ε, T(n) and L(c) (C1, C4–C8; C3, the
image sizes: :mod:`mllab.report.judges_images`).

Each judge takes a run's :class:`~mllab.core.records.Results`, reads the exact record fields
named in its docstring, and returns a :class:`~mllab.report.verdict.Judgement`. A missing
record, field or run raises :class:`~mllab.report.verdict.NotMeasured`. Each docstring gives
the claim's falsifiable design in three sentences: "Fails when" (the result that makes it not
hold), "Control" (what separates the lecture's cause from other causes, or that this run has
none) and "No difference" (the run-to-run spread, or the line, that counts as the same). A
difference inside the recorded spread reads "no measurable difference", never "faster".
"""

from __future__ import annotations

from typing import Any

from mllab.core.records import Results
from mllab.measure.batching import BatchFit, check_law
from mllab.measure.drift import LECTURE_DELTA as DELTA
from mllab.measure.drift import LECTURE_EPSILON as EPSILON
from mllab.report.verdict import (
    Evidence,
    Judgement,
    NotMeasured,
    Verdict,
    evidence,
    g,
    outcome_text,
    sci,
)

ORDER_OF_1E_2 = (1e-3, 1e-1)  # max|Δlogit| "about 1e-2": within an order of magnitude (C1)
ETA_CPU, ETA_GPU = 0.95, 0.98  # the lecture's container efficiencies (C5)
R2_MIN = 0.95  # a T(n) fit this good follows the law (C7)
LAW_TOLERANCE = 0.25  # every L(c) point within 25 % of scale / min(c, c_opt) (C8)


def judge_c1(results: Results) -> Judgement:
    """06 ``OrtVersionDrift``: outcome, device, old, new, max_abs, delta_l2, top1_agreement,
    torch_vs_ort_max_abs — the same model and inputs under two ONNX Runtime versions.

    The lecture's case is framework, CUDA and cuDNN versions on a GPU (line 41): only a record
    made on ``cuda`` is judged; a CPU record is a proxy, shown in the measured line and labelled
    so, and the verdict is "not measured here".

    Fails when: on a GPU, max|Δlogit| between the two versions is outside an order of
    magnitude around 1e-2 (1e-3 ≤ m < 1e-1), bitwise-identical logits included. Control: none
    in this run separates framework, CUDA and cuDNN (two ONNX Runtime builds change them
    together); PyTorch against ONNX Runtime on the same inputs is shown for scale. No
    difference: m = 0 (bitwise-identical); no run-to-run spread is recorded beside m."""
    r = evidence(results, "06", "OrtVersionDrift")
    m = float(r.need("max_abs"))
    device = str(r.get("device") or "cpu")
    figures = (
        f"onnxruntime {r.need('old')} vs {r.need('new')} ({device}): max|Δlogit| = {g(m)}, "
        f"Δ = {g(r.need('delta_l2'))}"
    )
    if r.get("top1_agreement") is not None:
        figures += f", top-1 agreement {g(r.get('top1_agreement'))}"
    if r.get("torch_vs_ort_max_abs") is not None:
        figures += f"; PyTorch vs ONNX Runtime: max|Δlogit| = {g(r.get('torch_vs_ort_max_abs'))}"
    if device != "cuda":
        measured = f"CPU proxy, not the lecture's case: {figures} {r.source}"
        why = "the lecture's case (framework/CUDA/cuDNN versions on a GPU) needs a GPU"
        return Judgement(measured, Verdict.not_measured(why))
    measured = f"{figures} {r.source}"
    if m == 0:
        return Judgement(measured, Verdict.does_not_hold("bitwise-identical logits"))
    if ORDER_OF_1E_2[0] <= m < ORDER_OF_1E_2[1]:
        return Judgement(measured, Verdict.holds(f"{g(m)} is of the order of 1e-2"))
    size = "smaller" if m < ORDER_OF_1E_2[0] else "larger"
    text = f"{g(m)} is orders of magnitude {size} than 1e-2"
    return Judgement(measured, Verdict.does_not_hold(text))


def _c4_evidence(results: Results) -> tuple[Evidence, str]:
    """06 ``ContainerVsHost`` when it ran, else 04 ``ContainerParity`` (and what was compared)."""
    try:
        return evidence(results, "06", "ContainerVsHost"), "host vs slim container"
    except NotMeasured as five:
        try:
            found = evidence(results, "04", "ContainerParity")
        except NotMeasured as three:
            raise NotMeasured(f"{five}; {three}") from None
        return found, "host vs the server in the slim container"


def judge_c4(results: Results) -> Judgement:
    """06 ``ContainerVsHost`` (outcome, delta_l2, max_abs, relative, torch_vs_ort_delta_l2),
    else 04 ``ContainerParity`` (outcome, delta_l2, max_abs, top1_agreement); 06
    ``Determinism``: control_across_runs_max_abs (the same default options rerun on the host).

    Fails when: Δ is above 1e-3 (the lecture's definition of "equivalent"). Control: the host
    against itself (the run-to-run max|Δ| of the same options) and PyTorch against ONNX Runtime
    on the host for scale; Δ relative to the logits' norm is shown beside the absolute one (the
    default weights are random, so the absolute bound depends on an arbitrary logit scale).
    No difference: a container max|Δ| within the host's run-to-run max|Δ| is no measurable
    difference; where that spread was not recorded, the verdict says so."""
    r, what = _c4_evidence(results)
    delta = float(r.need("delta_l2"))
    measured = f"{what}: Δ = {g(delta)}, max|Δ| = {g(r.need('max_abs'))}"
    if r.get("relative") is not None:
        measured += f", relative {g(r.get('relative'))}"
    if r.get("torch_vs_ort_delta_l2") is not None:
        measured += (
            f"; PyTorch vs ONNX Runtime on the host: Δ = {g(r.get('torch_vs_ort_delta_l2'))}"
        )
    if r.get("top1_agreement") is not None:
        measured += f", top-1 agreement {g(r.get('top1_agreement'))}"
    measured += f" {r.source}"
    spread, where = _host_spread(results)
    if spread is not None:
        measured += f"; the host against itself: max|Δ| = {g(spread)} {where}"
    if delta > DELTA:
        return Judgement(measured, Verdict.does_not_hold(f"Δ = {g(delta)} > {sci(DELTA)}"))
    text = f"Δ = {g(delta)} ≤ {sci(DELTA)}, the environments are equivalent"
    if spread is None:
        text += "; the host's run-to-run spread was not recorded"
    elif float(r.need("max_abs")) <= spread:
        text += "; no measurable difference from rerunning on the host"
    else:
        text += f"; the container differs beyond the host's run-to-run max|Δ| ({g(spread)})"
    return Judgement(measured, Verdict.holds(text))


def _host_spread(results: Results) -> tuple[float | None, str]:
    """06 ``Determinism``'s run-to-run max|Δ| of the default options, and its source."""
    try:
        r = evidence(results, "06", "Determinism")
    except NotMeasured:
        return None, ""
    spread = r.get("control_across_runs_max_abs")
    return (None, "") if spread is None else (float(spread), r.source)


def judge_c5(results: Results) -> Judgement:
    """07 ``Overhead``: outcome, eta_cpu, native_ms, container_ms, rounds (each round's
    container and native throughput); gpu (an Outcome) and eta_gpu.

    Fails when: every round's η_CPU is below 0.95 (the median below it with a single round),
    or η_GPU is below 0.98. Control: the same probe natively and in the container, in
    alternating rounds scheduled alike, so what differs is the container; a GPU half not
    measured makes the verdict "holds in part". No difference: the rounds' spread of
    η (min–max of ``rounds``): rounds that span 1 are no measurable overhead, never "faster";
    η_GPU is one figure with no spread recorded, and the verdict says so."""
    r = evidence(results, "07", "Overhead")
    eta = float(r.need("eta_cpu"))
    ratios = [float(x["container_per_s"]) / float(x["native_per_s"]) for x in r.get("rounds") or []]
    measured = f"η_CPU = {eta:.3f}"
    if len(ratios) >= 2:
        measured += f" (rounds {min(ratios):.3f}–{max(ratios):.3f})"
    if r.get("native_ms") is not None and r.get("container_ms") is not None:
        measured += f", {g(r.get('native_ms'))} ms native, {g(r.get('container_ms'))} ms container"
    gpu_ok: bool | None = None
    if r.ran("gpu") and r.get("eta_gpu") is not None:
        eta_gpu = float(r.get("eta_gpu"))
        measured += f", η_GPU = {eta_gpu:.3f}"
        gpu_ok = eta_gpu >= ETA_GPU
        gpu = f"; on GPU, η = {eta_gpu:.3f} {'≥' if gpu_ok else '<'} {ETA_GPU} (no spread)"
    else:
        why = outcome_text(r.get("gpu")) or "η_GPU not recorded"
        gpu = f"; GPU part not measured here: {why}"
    measured += f" {r.source}"
    cpu, cpu_ok = _c5_cpu(eta, ratios)
    if not cpu_ok or gpu_ok is False:
        return Judgement(measured, Verdict.does_not_hold(cpu + gpu))
    if gpu_ok is None:
        return Judgement(measured, Verdict.holds_in_part(cpu + gpu))
    return Judgement(measured, Verdict.holds(cpu + gpu))


def _c5_cpu(eta: float, ratios: list[float]) -> tuple[str, bool]:
    """C5's CPU half in words, and whether it holds, read against the rounds' spread."""
    overhead = 100 * (1 - eta)
    if len(ratios) < 2:
        spread = "fewer than two rounds: no spread recorded"
        if eta >= 1.0:
            return f"on CPU, η = {eta:.3f}: no overhead seen ({spread})", True
        ok = eta >= ETA_CPU
        return f"on CPU, overhead {overhead:.1f} % {'≤' if ok else '>'} 5 % ({spread})", ok
    low, high = min(ratios), max(ratios)
    span = f"rounds {low:.3f}–{high:.3f}"
    if low <= 1.0 <= high:
        return f"on CPU, no measurable overhead (the rounds' η span 1: {low:.3f}–{high:.3f})", True
    if low > 1.0:
        return f"on CPU, the container was not slower (η = {eta:.3f}, every round above 1)", True
    if high < ETA_CPU:
        return f"on CPU, overhead {overhead:.1f} % > 5 % in every round ({span})", False
    if eta >= ETA_CPU:
        return f"on CPU, overhead {overhead:.1f} % ≤ 5 % ({span})", True
    return f"on CPU, overhead {overhead:.1f} %, within the rounds' spread of 5 % ({span})", True


def judge_c6(results: Results) -> Judgement:
    """06 ``Determinism``: outcome, across_runs_max_abs and, when measured,
    threads_1_vs_n_max_abs and host_vs_container_max_abs (the lecture's deterministic options);
    control_across_runs_max_abs and control_threads_1_vs_n_max_abs (the default options).

    Fails when: a max|Δ| above ε = 1e-6 with the lecture's options. Control: the same
    comparisons with ONNX Runtime's default options: where they are just as stable, the run
    does not show that the options are the cause. No difference: the lecture's ε = 1e-6 is the
    line (bitwise equality is below it). The claim is about machines, and one machine measures
    only its part: the verdict holds in part at best."""
    r = evidence(results, "06", "Determinism")
    r.need("across_runs_max_abs")
    labels = {
        "across_runs_max_abs": "across runs",
        "threads_1_vs_n_max_abs": "1 vs n threads",
        "host_vs_container_max_abs": "host vs container",
    }
    seen = {label: float(r.get(k)) for k, label in labels.items() if r.get(k) is not None}
    measured = ", ".join(f"{k}: max|Δ| = {g(v)}" for k, v in seen.items())
    controls = {
        "across runs": r.get("control_across_runs_max_abs"),
        "1 vs n threads": r.get("control_threads_1_vs_n_max_abs"),
    }
    control = {k: float(v) for k, v in controls.items() if v is not None}
    if control:
        pairs = ", ".join(f"{k}: {g(v)}" for k, v in control.items())
        measured += f"; control (default options) {pairs}"
    measured += f" {r.source}"
    worst = max(seen.values())
    scope = "on one machine (across machines not measured here)"
    if worst > EPSILON:
        text = f"{scope}: max|Δ| = {g(worst)} > {sci(EPSILON)}"
        return Judgement(measured, Verdict.does_not_hold(text))
    text = f"{scope}: max|Δ| = {g(worst)} ≤ {sci(EPSILON)}"
    if not control:
        text += "; no control ran, so the options are not shown to be the cause"
    elif max(control.values()) <= EPSILON:
        text += "; the default options were just as stable: this run does not show they matter"
    else:
        text += f"; the default options drifted by {g(max(control.values()))}: the options matter"
    return Judgement(measured, Verdict.holds_in_part(text))


def judge_c7(results: Results) -> Judgement:
    """05 ``BatchFit``: batches, throughput (T = n / mean latency), latency_std_ms, repeats,
    n_star, latency_bound_ms (a_ms, b_ms and r2 are refitted from them: :func:`check_law`).

    Fails when: the unconstrained fixed cost a is below 0 beyond two standard errors (latency
    growing faster than linearly: the law does not describe the data), or the fit with a ≥ 0
    has R² below 0.95, or the measured n* (the fastest batch under the bound) is not the
    law's n* while T(n) differs beyond its spread. Control: the no-batching law a = 0, under
    which T(n) is flat: the verdict says whether the fixed cost is distinguishable from zero.
    No difference: two standard errors of a (``latency_std_ms`` over ``repeats``) and of the
    gain T(n*)/T(1): a gain within its spread buys nothing; without recorded spreads the
    verdict says so."""
    r = evidence(results, "05", "BatchFit", outcome=None)
    fit = BatchFit(
        a_ms=float(r.need("a_ms")),
        b_ms=float(r.need("b_ms")),
        r2=float(r.need("r2")),
        n_star=r.get("n_star"),
        latency_bound_ms=r.get("latency_bound_ms"),
        batches=[int(v) for v in r.need("batches")],
        throughput=[float(v) for v in r.need("throughput")],
        latency_std_ms=[float(v) for v in r.get("latency_std_ms") or []],
        repeats=r.get("repeats"),
    )
    if len(set(fit.batches)) < 2 or len(fit.batches) != len(fit.throughput):
        raise NotMeasured(f"{r.where}: T(n) needs at least two batch sizes with a T each")
    law = check_law(fit)
    se = f" ± {g(law.a_se_ms)}" if law.a_se_ms is not None else ""
    spread = f" ± {law.gain_spread:.2f}" if law.gain_spread is not None else ""
    measured = (
        f"unconstrained a = {g(law.a_ms)}{se} ms; with a ≥ 0: a = {g(law.a_fit_ms)} ms, "
        f"b = {g(law.b_fit_ms)} ms/item, R² = {law.r2:.3f}; T(n*)/T(1) = {law.gain:.2f}{spread}"
        f" at n* = {law.n_star}"
    )
    if fit.latency_bound_ms is not None:
        measured += f" under L ≤ {g(fit.latency_bound_ms)} ms (the law's n*: {law.law_n_star})"
    measured += f" {r.source}"
    if law.negative_fixed_cost:
        text = f"the fit needs a negative fixed cost (a = {g(law.a_ms)}{se} ms): L(n) grows "
        return Judgement(measured, Verdict.does_not_hold(text + "faster than a + b·n allows"))
    if law.r2 < R2_MIN or law.b_fit_ms <= 0:
        text = f"with a ≥ 0, R² = {law.r2:.3f} (< {R2_MIN}) or b ≤ 0: T(n) fits poorly"
        return Judgement(measured, Verdict.does_not_hold(text))
    flat = law.gain_distinguishable is False
    if law.n_star != law.law_n_star and not flat and fit.latency_bound_ms is not None:
        text = f"the fastest batch under the bound is n = {law.n_star}, the law's is "
        return Judgement(measured, Verdict.does_not_hold(text + str(law.law_n_star)))
    fixed = {
        True: "distinguishable from zero",
        False: "indistinguishable from zero (T ≈ 1/b)",
        None: "without an error bar (two batch sizes)",
    }[law.fixed_cost_distinguishable]
    buys = f"batching buys ×{law.gain:.2f}{spread} here" + (", i.e. nothing" if flat else "")
    if law.gain_spread is None:
        buys += " (no spread recorded)"
    return Judgement(measured, Verdict.holds(f"the law fits with a fixed cost {fixed}; {buys}"))


def _sweep(results: Results, policy: object) -> tuple[dict[float, dict[str, Any]], str]:
    """07 ``CpuSweep``'s probe runs of thread policy ``policy`` by quota, and its source
    (empty when the sweep was not recorded)."""
    try:
        r = evidence(results, "07", "CpuSweep", outcome=None, schema=2)  # 2: same_runs added
    except NotMeasured:
        return {}, ""
    runs = [x for x in r.get("runs") or [] if x.get("policy") == policy and x.get("cpus")]
    return {float(x["cpus"]): x for x in runs}, r.source


def _spread(run: dict[str, Any] | None) -> float | None:
    """The round-to-round spread (max − min of the rounds' means) of one probe, in ms."""
    means = [float(v) for v in (run or {}).get("round_means_ms") or []]
    return max(means) - min(means) if len(means) >= 2 else None


def judge_c8(results: Results) -> Judgement:
    """07 ``LcFit`` (schema 2): outcome, cpus, latency_ms under ``--cpus`` quotas, policy (the
    thread pool), the fit c_opt, scale_ms, r2, identified, and each point's nr_throttled /
    nr_periods (shown beside); 07 ``CpuSweep`` (optional): the same policy's runs and their
    round_means_ms (the spread).

    Fails when: a point is off scale_ms / min(c, c_opt) by more than 25 %, or latency does
    not fall as the quota grows (c_opt at the smallest quota, or the fall within the rounds'
    spread): a flat L(c) fits scale / min(c, smallest c) exactly and still shows no 1/c part.
    Control: the one-thread pool, for which c_opt ≤ 1 holds by construction: a fit recorded
    for it is not measured here; the claim is judged on the pool a user gets. No difference:
    the sweep's round-to-round spread of the mean latency at the smallest and the largest
    quota; without the sweep, only the fitted c_opt decides, and the text says so."""
    r = evidence(results, "07", "LcFit", schema=2)  # 2: with each point's CFS counters
    cpus = [float(c) for c in r.need("cpus")]
    lat = [float(v) for v in r.need("latency_ms")]
    if not cpus or len(cpus) != len(lat):
        raise NotMeasured(f"{r.where} has {len(cpus)} quotas and {len(lat)} latencies")
    c_opt, scale = float(r.need("c_opt")), float(r.need("scale_ms"))
    identified = bool(r.need("identified"))
    policy = r.get("policy")
    errors = [abs(v / (scale / min(c, c_opt)) - 1) for c, v in zip(cpus, lat, strict=True)]
    pairs = ", ".join(f"c={c:g}: {v:.0f} ms" for c, v in zip(cpus, lat, strict=True))
    pool = f"{policy} thread pool: " if policy is not None else ""
    measured = f"{pool}{pairs}; c_opt = {c_opt:.2g}, scale = {g(scale)} ms"
    if r.get("r2") is not None:
        measured += f", R² = {float(r.get('r2')):.3f}"
    worst = 100 * max(errors)
    measured += f"; worst deviation from the law: {worst:.0f} %"
    counters = zip(cpus, r.get("nr_throttled") or [], r.get("nr_periods") or [], strict=False)
    shares = [f"c={c:g}: {n}/{of}" for c, n, of in counters if of]
    if shares:
        measured += f"; CFS periods throttled {', '.join(shares)}"
    measured += f" {r.source}"
    runs, where = _sweep(results, policy)
    low, high = min(cpus), max(cpus)
    at_low, at_high = _spread(runs.get(low)), _spread(runs.get(high))
    spread = None if at_low is None or at_high is None else at_low + at_high
    if at_low is not None and at_high is not None:
        measured += f"; rounds' spread {at_low:.0f} ms at c={low:g}, {at_high:.0f} ms at c={high:g}"
        measured += f" {where}"
    if policy == 1:
        why = "the fit is of the one-thread control, where c_opt ≤ 1 holds by construction"
        return Judgement(measured, Verdict.not_measured(why))
    fall = lat[cpus.index(low)] - lat[cpus.index(high)]
    if c_opt <= low * (1 + 1e-9):
        text = "latency did not fall as the quota grew (c_opt at the smallest quota): no 1/c part"
        return Judgement(measured, Verdict.does_not_hold(text))
    if spread is not None and fall <= spread:
        text = f"latency fell by {fall:.0f} ms from c={low:g} to c={high:g}, within the "
        text += "rounds' spread: no measurable 1/c part"
        return Judgement(measured, Verdict.does_not_hold(text))
    knee = "" if identified else "; c_opt not identified (latency fell up to the largest quota)"
    if spread is None:
        knee += "; no round-to-round spread recorded"
    if max(errors) <= LAW_TOLERANCE:
        return Judgement(measured, Verdict.holds(f"every point within 25 %{knee}"))
    return Judgement(measured, Verdict.does_not_hold(f"off by {worst:.0f} % (> 25 %){knee}"))
