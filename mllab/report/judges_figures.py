"""Judges of the claims about figures: logits, sizes, Δ, η, ε, T(n) and L(c) (C1, C3–C8).

Each judge takes a run's :class:`~mllab.core.records.Results`, reads the exact record fields
named in its docstring, and returns a :class:`~mllab.report.verdict.Judgement`. A missing
record, field or run raises :class:`~mllab.report.verdict.NotMeasured`.
"""

from __future__ import annotations

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
SIZE_RATIO = (2.0, 3.0)  # "2–3× smaller" (C3)
R2_MIN = 0.95  # a T(n) fit this good follows the law (C7)
LAW_TOLERANCE = 0.25  # every L(c) point within 25 % of scale / min(c, c_opt) (C8)


def judge_c1(results: Results) -> Judgement:
    """05 ``OrtVersionDrift``: outcome, device, old, new, max_abs, delta_l2, top1_agreement,
    torch_vs_ort_max_abs — the same model and inputs under two ONNX Runtime versions.

    The lecture's case is framework, CUDA and cuDNN versions on a GPU (line 41): only a record
    made on ``cuda`` is judged; a CPU record is a proxy, shown in the measured line and labelled
    so, and the verdict is "not measured here". What would make it fail: a max|Δlogit| outside
    an order of magnitude around 1e-2 (bitwise-identical logits included)."""
    r = evidence(results, "05", "OrtVersionDrift")
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


def judge_c3(results: Results) -> Judgement:
    """03 ``ImageSizes``: naive_mb, slim_mb (and outcomes["naive"/"slim"]: built or why not).
    The ratio is compared unrounded: 1.96× is not within 2–3×."""
    r = evidence(results, "03", "ImageSizes", outcome=None)
    outcomes = r.get("outcomes") or {}
    for kind in ("naive", "slim"):
        problem = outcome_text(outcomes[kind]) if kind in outcomes else None
        if problem:
            raise NotMeasured(f"{r.where}: the {kind} image {problem}")
    naive, slim = float(r.need("naive_mb")), float(r.need("slim_mb"))
    if slim <= 0:
        raise NotMeasured(f"{r.where} has slim_mb = {slim}, not a size")
    ratio = naive / slim
    measured = f"naive {naive:.0f} MB / slim {slim:.0f} MB = {ratio:.3g}× {r.source}"
    low, high = SIZE_RATIO
    if low <= ratio <= high:
        return Judgement(measured, Verdict.holds(f"{ratio:.3g}× smaller"))
    if ratio > high:
        text = f"{ratio:.3g}× smaller, more than the claimed 2–3×"
        return Judgement(measured, Verdict.does_not_hold(text))
    return Judgement(measured, Verdict.does_not_hold(f"only {ratio:.3g}× smaller"))


def _c4_evidence(results: Results) -> tuple[Evidence, str]:
    """05 ``ContainerVsHost`` when it ran, else 03 ``ContainerParity`` (and what was compared)."""
    try:
        return evidence(results, "05", "ContainerVsHost"), "host vs slim container"
    except NotMeasured as five:
        try:
            found = evidence(results, "03", "ContainerParity")
        except NotMeasured as three:
            raise NotMeasured(f"{five}; {three}") from None
        return found, "host vs the server in the slim container"


def judge_c4(results: Results) -> Judgement:
    """05 ``ContainerVsHost`` (outcome, delta_l2, max_abs, relative, torch_vs_ort_delta_l2),
    else 03 ``ContainerParity`` (outcome, delta_l2, max_abs, top1_agreement).

    What would make it fail: Δ above 1e-3. The scale: PyTorch against ONNX Runtime on the same
    host, and Δ relative to the logits' norm (the default weights are random, so the absolute
    bound depends on an arbitrary logit scale; both are shown)."""
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
    if delta <= DELTA:
        text = f"Δ = {g(delta)} ≤ {sci(DELTA)}, the environments are equivalent"
        return Judgement(measured, Verdict.holds(text))
    return Judgement(measured, Verdict.does_not_hold(f"Δ = {g(delta)} > {sci(DELTA)}"))


def judge_c5(results: Results) -> Judgement:
    """06 ``Overhead``: outcome, eta_cpu, native_ms, container_ms, rounds (each round's
    container and native throughput); gpu (an Outcome) and eta_gpu.

    What would make it fail: η_CPU below 0.95 (or η_GPU below 0.98) beyond the rounds' spread.
    The spread is the control: an η whose rounds span 1 is no measurable difference, never
    "faster"; a GPU half not measured makes the verdict "holds in part"."""
    r = evidence(results, "06", "Overhead")
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
        gpu = f"; on GPU, η = {eta_gpu:.3f} {'≥' if gpu_ok else '<'} {ETA_GPU}"
    else:
        why = outcome_text(r.get("gpu")) or "η_GPU not recorded"
        gpu = f"; GPU part not measured here: {why}"
    measured += f" {r.source}"
    overhead = 100 * (1 - eta)
    if len(ratios) >= 2 and min(ratios) <= 1.0 <= max(ratios):
        cpu = f"on CPU, no measurable overhead (the rounds' η span 1: {min(ratios):.3f}–"
        cpu, cpu_ok = cpu + f"{max(ratios):.3f})", True
    elif eta >= 1.0:
        cpu, cpu_ok = f"on CPU, the container was not slower (η = {eta:.3f} ≥ {ETA_CPU})", True
    elif eta >= ETA_CPU:
        cpu, cpu_ok = f"on CPU, overhead {overhead:.1f} % ≤ 5 %", True
    else:
        cpu, cpu_ok = f"on CPU, overhead {overhead:.1f} % > 5 %", False
    if not cpu_ok or gpu_ok is False:
        return Judgement(measured, Verdict.does_not_hold(cpu + gpu))
    if gpu_ok is None:
        return Judgement(measured, Verdict.holds_in_part(cpu + gpu))
    return Judgement(measured, Verdict.holds(cpu + gpu))


def judge_c6(results: Results) -> Judgement:
    """05 ``Determinism``: outcome, across_runs_max_abs and, when measured,
    threads_1_vs_n_max_abs and host_vs_container_max_abs (the lecture's deterministic options);
    control_across_runs_max_abs and control_threads_1_vs_n_max_abs (the default options).

    What would make it fail: a max|Δ| above ε = 1e-6 with the lecture's options. The control is
    the same comparison with ONNX Runtime's default options: where it is just as stable, the
    run does not show that the options are the cause. The claim is about machines, and one
    machine measures only its part: the verdict holds in part at best."""
    r = evidence(results, "05", "Determinism")
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
    """04 ``BatchFit``: batches, throughput (T = n / mean latency), latency_std_ms, repeats,
    n_star, latency_bound_ms (a_ms, b_ms and r2 are refitted from them: :func:`check_law`).

    What would make it fail: a fixed cost a < 0 beyond two standard errors (latency growing
    faster than linearly: the law does not describe the data), or a fit with a ≥ 0 whose R² is
    below 0.95, or a measured n* (the fastest batch under the bound) that is not the law's n*
    while T(n) differs beyond its spread. The control is the no-batching law a = 0, under which
    T(n) is flat: the verdict says whether the fixed cost is distinguishable from zero and what
    batching buys here, T(n*)/T(1) with its spread (two standard errors of the means)."""
    r = evidence(results, "04", "BatchFit", outcome=None)
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
    return Judgement(measured, Verdict.holds(f"the law fits with a fixed cost {fixed}; {buys}"))


def judge_c8(results: Results) -> Judgement:
    """06 ``LcFit``: outcome, cpus, latency_ms under ``--cpus`` quotas and the fit c_opt,
    scale_ms, r2, identified. The law holds when every point is within 25 % of
    scale_ms / min(c, c_opt); no fitted value is ever guessed.

    What would make it fail: a point off the law by more than 25 %, or a latency that does not
    fall as the quota grows. The control is the flat law (c_opt at the smallest quota, latency
    the same under every quota), which fits any flat data within 0 %: a fit whose c_opt sits
    there saw no 1/c part and does not hold."""
    r = evidence(results, "06", "LcFit")
    cpus = [float(c) for c in r.need("cpus")]
    lat = [float(v) for v in r.need("latency_ms")]
    if not cpus or len(cpus) != len(lat):
        raise NotMeasured(f"{r.where} has {len(cpus)} quotas and {len(lat)} latencies")
    c_opt, scale = float(r.need("c_opt")), float(r.need("scale_ms"))
    identified = bool(r.need("identified"))
    errors = [abs(v / (scale / min(c, c_opt)) - 1) for c, v in zip(cpus, lat, strict=True)]
    pairs = ", ".join(f"c={c:g}: {v:.0f} ms" for c, v in zip(cpus, lat, strict=True))
    measured = f"{pairs}; c_opt = {c_opt:.2g}, scale = {g(scale)} ms"
    if r.get("r2") is not None:
        measured += f", R² = {float(r.get('r2')):.3f}"
    worst = 100 * max(errors)
    measured += f"; worst deviation from the law: {worst:.0f} % {r.source}"
    knee = (
        ""
        if identified
        else (
            "; c_opt is not identified (latency fell up to the largest quota this host allows), "
            "so only the 1/c part is tested"
        )
    )
    if c_opt <= min(cpus) * (1 + 1e-9):
        text = "latency did not fall as the quota grew (c_opt at the smallest quota): no 1/c part"
        return Judgement(measured, Verdict.does_not_hold(text))
    if max(errors) <= LAW_TOLERANCE:
        return Judgement(measured, Verdict.holds(f"every point within 25 %{knee}"))
    return Judgement(measured, Verdict.does_not_hold(f"off by {worst:.0f} % (> 25 %){knee}"))
