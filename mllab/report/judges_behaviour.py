"""Judges of the claims about how the tools behave: rebuilds, the layer cache, CUDA versions,
the lecture's Flask service and ``docker stats`` (C2, C9–C13).

Each judge takes a run's :class:`~mllab.core.records.Results`, reads the exact record fields
named in its docstring, and returns a :class:`~mllab.report.verdict.Judgement`. A missing
record, field or run raises :class:`~mllab.report.verdict.NotMeasured`. Each docstring gives
the claim's falsifiable design in three sentences: "Fails when" (the result that makes it not
hold), "Control" (what separates the lecture's cause from other causes, or that this run has
none) and "No difference" (what counts as the same).
"""

from __future__ import annotations

from typing import Any

from mllab.core.records import Results
from mllab.report.verdict import (
    Evidence,
    Judgement,
    NotMeasured,
    Verdict,
    evidence,
    outcome_text,
)

#: the error ONNX Runtime / CUDA report when the container's CUDA is newer than the driver
INSUFFICIENT = "driver version is insufficient"
#: CPU % points (a tenth of one core) a loaded server must read above an idle container (C13)
LOAD_MARGIN = 10.0


def _same(part: Evidence) -> str:
    """``same image ID`` / ``different tar sha256`` for a ``RebuildComparison``."""
    identity = part.get("identity") or "identity"
    return f"{'same' if part.need('same') else 'different'} {identity}"


def _comparison(r: Evidence, name: str, label: str) -> tuple[str, bool | None]:
    """One optional ``RebuildComparison`` in words, and its ``same`` (None: not measured)."""
    problem = r.part_problem(name)
    if problem is not None:
        return f"{label}: {problem}", None
    part = r.part(name)
    return f"{label}: {_same(part)}", bool(part.need("same"))


def judge_c2(results: Results) -> Judgement:
    """06 ``Rebuilds``: docker_nocache, buildah, base_tar, each a ``RebuildComparison``
    (outcome, same, identity, differing_fields). The verdict is docker's plain rebuild;
    buildah's reproducible build is said beside it.

    Fails when: ``docker build --no-cache`` of the same Dockerfile twice gives another image
    ID. Control: buildah with ``--timestamp 0`` (and ``SOURCE_DATE_EPOCH``) on the same inputs
    pins the build times, so a difference it removes comes from time stamps, not content; the
    mmdebstrap base tar rebuilt twice does the same for the base. No difference: an identity is
    equal or not (no spread: the IDs are digests)."""
    r = evidence(results, "06", "Rebuilds", outcome=None)
    docker = r.part("docker_nocache")
    same = bool(docker.need("same"))
    # the timestamps and diff_ids first: they are what a reader looks for
    ranked = sorted(
        docker.get("differing_fields") or [],
        key=lambda f: (not ("created" in f or "diff_ids" in f), f),
    )
    differs = "" if same or not ranked else f" (differs in {', '.join(ranked[:5])})"
    parts = [f"docker build --no-cache twice: {_same(docker)}{differs}"]
    buildah_text, buildah_same = _comparison(r, "buildah", "buildah --timestamp 0 twice")
    parts.append(buildah_text)
    parts.append(_comparison(r, "base_tar", "mmdebstrap base tar twice")[0])
    measured = "; ".join(parts) + f" {r.source}"
    if same:
        return Judgement(measured, Verdict.holds("a plain rebuild of the same Dockerfile matched"))
    if buildah_same:
        return Judgement(
            measured,
            Verdict.does_not_hold(
                "as stated: the same Dockerfile rebuilt by docker --no-cache got a new ID; it held "
                "for the build made reproducible (buildah --timestamp 0, SOURCE_DATE_EPOCH, "
                "hash-based .pyc)"
            ),
        )
    text = "rebuilding the same Dockerfile gave a different image"
    return Judgement(measured, Verdict.does_not_hold(text))


def _version(text: Any) -> tuple[int, ...] | None:
    """``"12.9"`` -> (12, 9); None when it is not a version."""
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        return None


def judge_c9(results: Results) -> Judgement:
    """00 ``CudaCompatibility``: container_cuda, driver_max_cuda, observed (an Outcome: a CUDA
    session actually attempted) and error. Only an observed attempt decides: the version
    strings alone say what should happen, not what did.

    Fails when: a CUDA session ran although the container's CUDA is newer than the driver's,
    or failed with "driver version is insufficient" although it is not. Control: none in this
    run (one container CUDA against one driver); a session that failed for another reason is
    not measured. No difference: versions compare exactly, component by component."""
    r = evidence(results, "00", "CudaCompatibility", outcome=None)
    container, driver = r.get("container_cuda"), r.get("driver_max_cuda")
    measured = (
        f"ONNX Runtime built for CUDA {container or '?'}, driver supports CUDA "
        f"{driver or 'none (no driver)'}"
    )
    observed = r.get("observed")
    status = observed.get("status") if isinstance(observed, dict) else None
    if status not in ("ran", "failed"):
        why = outcome_text(observed)
        return Judgement(
            f"{measured} {r.source}",
            Verdict.not_measured(
                f"no CUDA session was attempted ({why}); the version strings alone prove nothing"
            ),
        )
    error = r.get("error") or (observed.get("reason") if status == "failed" else "")
    measured += f"; a CUDA session {'ran' if status == 'ran' else f'failed: {error}'} {r.source}"
    need, have = _version(container), _version(driver)
    if need is None or have is None:
        why = f"{r.where} has no comparable CUDA versions ({container!r}, {driver!r})"
        raise NotMeasured(why, measured)
    predicted_ok = need <= have
    if status == "ran":
        if predicted_ok:
            text = f"CUDA {container} ≤ driver's {driver}, and the session ran"
            return Judgement(measured, Verdict.holds(text))
        text = f"CUDA {container} > driver's {driver}, yet the session ran"
        return Judgement(measured, Verdict.does_not_hold(text))
    if INSUFFICIENT not in str(error).lower():
        raise NotMeasured(f"the CUDA session failed for another reason: {error}", measured)
    if predicted_ok:
        text = f"CUDA {container} ≤ driver's {driver}, yet the driver was called insufficient"
        return Judgement(measured, Verdict.does_not_hold(text))
    text = f"CUDA {container} > driver's {driver}, and the predicted error is seen"
    return Judgement(measured, Verdict.holds(text))


def judge_c10(results: Results) -> Judgement:
    """06 ``CacheEffects``: outcome, model_change_pip_cached, model_change_rebuilt,
    before_change_cached, lock_change_pip_rerun (no missing bool is taken as a hit).

    Fails when: a model change reruns ``pip install`` or a step before the change, or a lock
    change leaves ``pip install`` cached. Control: the lock change, the one input that must
    rerun pip: a cache that never reran anything would fail it. No difference: a step is a
    cache hit or not, as the builder reports it."""
    r = evidence(results, "06", "CacheEffects")
    pip_cached = bool(r.need("model_change_pip_cached"))
    before_cached = bool(r.need("before_change_cached"))
    pip_rerun = bool(r.need("lock_change_pip_rerun"))
    rebuilt = list(r.get("model_change_rebuilt") or [])
    measured = (
        f"model changed: pip install {'cached' if pip_cached else 'rerun'}, steps before it "
        f"{'cached' if before_cached else 'rerun'}, {len(rebuilt)} step(s) rebuilt from "
        f"'{rebuilt[0] if rebuilt else '-'}'; lock changed: pip install "
        f"{'rerun' if pip_rerun else 'cached'} {r.source}"
    )
    if pip_cached and before_cached and pip_rerun:
        return Judgement(measured, Verdict.holds("only the changed step and those after it ran"))
    wrong = [
        what
        for what, ok in (
            ("pip install reran for a model change", pip_cached),
            ("steps before the change were rebuilt", before_cached),
            ("pip install was cached after the lock changed", pip_rerun),
        )
        if not ok
    ]
    return Judgement(measured, Verdict.does_not_hold("; ".join(wrong)))


def judge_c11(results: Results) -> Judgement:
    """06 ``ModelLayer``: outcome, ids_differ, changed_layers, model_layer, only_model_layer,
    same_build_args.

    Fails when: the image ID stays the same after the model file changed. Control: both builds
    get the same build arguments (the model's sha256 label held fixed), so a new ID can come
    from the file alone; where the arguments changed too (``same_build_args`` not True), the
    verdict holds in part. No difference: the image IDs are equal (a digest: no spread)."""
    r = evidence(results, "06", "ModelLayer")
    ids_differ = bool(r.need("ids_differ"))
    only = r.get("only_model_layer")
    measured = (
        f"another model file: image ID {'changed' if ids_differ else 'unchanged'}; layers "
        f"whose diff_id changed: {r.get('changed_layers')} (the model's COPY is layer "
        f"{r.get('model_layer') if r.get('model_layer') is not None else '?'}) {r.source}"
    )
    if not ids_differ:
        return Judgement(measured, Verdict.does_not_hold("the image ID did not change"))
    which = {
        True: "and only the model layer changed",
        False: "(more layers changed than the model's)",
        None: "(which layers changed was not measured)",
    }[only]
    if r.get("same_build_args") is not True:
        text = f"the image ID changed {which}, but the build arguments (the model's sha256 "
        text += "label) changed too: the model file alone was not isolated"
        return Judgement(measured, Verdict.holds_in_part(text))
    return Judgement(measured, Verdict.holds(f"the image ID follows the model, {which}"))


def _corrected(r: Evidence) -> tuple[str, str]:
    """The corrected run (with ``app.run()``) in the measured text and in the verdict."""
    problem = r.part_problem("corrected")
    if problem is not None:
        return f"with app.run(): {problem}", f"; the corrected service was {problem}"
    status = r.part("corrected").get("status")
    if status == 200:
        return "with app.run(): HTTP 200", "; with app.run() added it answers HTTP 200"
    answer = f"HTTP {status}" if status is not None else "no answer"
    return (
        f"with app.run(): {answer}",
        f"; with app.run() added it did not answer either ({answer})",
    )


def judge_c12(results: Results) -> Judgement:
    """02 ``LectureFlask``: as_written and corrected, each a ``FlaskRun`` (outcome, exited,
    exit_code, listening, port, status, log_tail). The verdict is the as-written run's; the
    corrected run says whether adding ``app.run()`` is all it lacks.

    Fails when: the script as written does not answer a JSON prediction with HTTP 200 on port
    8080. Control: the same script with ``app.run()`` added, which separates "the code is
    incomplete" from "the environment cannot serve". No difference: an HTTP status is 200 or
    not."""
    r = evidence(results, "02", "LectureFlask", outcome=None)
    run = r.part("as_written")
    listening, port, code = bool(run.need("listening")), run.get("port"), run.get("exit_code")
    corrected_measured, corrected_text = _corrected(r)
    state = f"exit code {code}" if run.get("exited") else "still running"
    measured = (
        f"as written: {state}, {'listening' if listening else 'nothing listening'} on port "
        f"{port}; {corrected_measured} {r.source}"
    )
    if listening:
        status = run.get("status")
        if status == 200:
            return Judgement(measured, Verdict.holds("the service as written answers HTTP 200"))
        answer = f"HTTP {status}" if status is not None else "no answer"
        text = f"the service as written listens but a prediction got {answer}"
        return Judgement(measured, Verdict.does_not_hold(text))
    if run.get("exited") and code == 0:
        text = "the script as written defines the app and exits without serving"
    elif run.get("exited"):
        text = f"the script as written crashed with exit code {code} (see its log tail)"
    else:
        text = f"the script as written kept running but nothing listened on port {port}"
    return Judgement(measured, Verdict.does_not_hold(text + corrected_text))


def _percent(text: Any) -> float | None:
    """``"180.5%"`` -> 180.5; None for a cell that is not a percentage (``"--"``, missing)."""
    try:
        return float(str(text).strip().rstrip("%"))
    except ValueError:
        return None


def _stats(results: Results, lab: str) -> tuple[Evidence | None, str]:
    """Lab ``lab``'s ``DockerStats`` when its ``docker stats`` answered, else why not."""
    try:
        r = evidence(results, lab, "DockerStats", outcome=None)
    except NotMeasured as missing:
        return None, str(missing)
    if r.get("returncode") == 0:
        return r, ""
    return None, f"{r.where}: docker stats failed: {r.get('error') or 'no return code'}"


def _load(results: Results) -> Evidence | None:
    """Lab 07's ``LoadResult``, if recorded."""
    try:
        return evidence(results, "07", "LoadResult", outcome=None)
    except NotMeasured:
        return None


def _answered(load: Evidence | None) -> int:
    """How many requests of lab 07's load were answered (0 without a load)."""
    if load is None:
        return 0
    return int(load.get("requests") or 0) - int(load.get("failures") or 0)


def _under_load(loaded: Evidence | None, load: Evidence | None, idle: Evidence | None) -> str:
    """Why the readings do not show CPU use under load ("" when they do)."""
    if loaded is None:
        return "only an idle container was read (run lab 07 for the server under load)"
    if _answered(load) <= 0:
        return "lab 07 recorded no answered load beside its reading"
    if idle is None:
        return "no idle container was read beside the loaded one (run lab 06)"
    busy, rest = _percent(loaded.get("cpu_percent")), _percent(idle.get("cpu_percent"))
    if busy is None or rest is None:
        return "a CPU % cell was not a percentage"
    if busy - rest <= LOAD_MARGIN:
        return (
            f"the loaded server's {busy:g} % is within {LOAD_MARGIN:g} points of idle "
            f"{rest:g} %: no measurable difference"
        )
    return ""


def judge_c13(results: Results) -> Judgement:
    """07 ``DockerStats`` (``docker stats --no-stream`` of the server that served lab 07's load)
    with 07 ``LoadResult`` (requests, failures), and 06 ``DockerStats`` (an idle container):
    returncode, error, columns, gpu_column, gpu_fields, cpu_percent, mem_usage.

    Fails when: the header ``docker stats`` prints has no CPU %, no memory or no GPU memory
    column (a failed ``docker stats`` is not an empty table: not measured). Control: the idle
    container of lab 06 beside the loaded server of lab 07: a CPU % column shows CPU use only
    where the loaded reading rises above the idle one; an idle reading alone, or a loaded one
    without the idle control, holds in part at best. No difference: one reading each, no
    run-to-run spread recorded, so a loaded CPU % within :data:`LOAD_MARGIN` points of the
    idle one counts as the same."""
    loaded, why_06 = _stats(results, "07")
    idle, why_05 = _stats(results, "06")
    shown = loaded or idle
    if shown is None:
        if why_05.startswith("DockerStats not recorded") and why_06.startswith("DockerStats not"):
            why = "DockerStats not recorded: run lab 06 (an idle container) and 07 (under load)"
            raise NotMeasured(why)
        raise NotMeasured(f"{why_05}; {why_06}")
    columns = [str(c) for c in shown.need("columns")]
    gpu_column = bool(shown.need("gpu_column"))
    load = _load(results) if loaded is not None else None
    readings = []
    if loaded is not None:
        cpu = loaded.get("cpu_percent") or "?"
        if load is not None:
            served = f"{_answered(load)} of {load.need('requests')} requests answered {load.source}"
            readings.append(f"{cpu} for the server of lab 07's load ({served})")
            readings[-1] += f" {loaded.source}"
        else:
            readings.append(f"{cpu} for lab 07's server (no load answered) {loaded.source}")
    if idle is not None:
        readings.append(f"{idle.get('cpu_percent') or '?'} for an idle container {idle.source}")
    gpu = ", ".join(shown.get("gpu_fields") or []) or "none"
    measured = (
        f"columns: {', '.join(columns)}; CPU: {', '.join(readings)}; memory "
        f"{shown.get('mem_usage') or '?'}; GPU fields in the stats API: {gpu}"
    )
    missing = [
        name
        for name, word in (("CPU %", "cpu"), ("memory", "mem"))
        if not any(word in c.lower() and "gpu" not in c.lower() for c in columns)
    ]
    if missing:
        text = f"docker stats printed no {' and no '.join(missing)} column"
        return Judgement(measured, Verdict.does_not_hold(text))
    short_of_load = _under_load(loaded, load, idle)
    if not gpu_column:
        text = "CPU % and memory columns yes, but no GPU memory column (GPU memory comes from "
        text += "nvidia-smi); " + (f"CPU use not shown: {short_of_load}" if short_of_load else "")
        text += "" if short_of_load else "CPU % rose under load"
        return Judgement(measured, Verdict.does_not_hold(text))
    if short_of_load:
        text = f"CPU %, memory and GPU memory columns shown; CPU use not shown: {short_of_load}"
        return Judgement(measured, Verdict.holds_in_part(text))
    return Judgement(
        measured, Verdict.holds("CPU %, memory and GPU memory shown; CPU % rose under load")
    )
