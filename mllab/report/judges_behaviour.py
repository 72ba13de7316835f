"""Judges of the claims about how the tools behave: rebuilds, the layer cache, CUDA versions,
the lecture's Flask service and ``docker stats`` (C2, C9–C13).

Each judge takes a run's :class:`~mllab.core.records.Results`, reads the exact record fields
named in its docstring, and returns a :class:`~mllab.report.verdict.Judgement`. A missing
record, field or run raises :class:`~mllab.report.verdict.NotMeasured`.
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
    """05 ``Rebuilds``: docker_nocache, buildah, base_tar, each a ``RebuildComparison``
    (outcome, same, identity, differing_fields). The verdict is docker's plain rebuild;
    buildah's reproducible build is said beside it."""
    r = evidence(results, "05", "Rebuilds", outcome=None)
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
    strings alone say what should happen, not what did."""
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
    """05 ``CacheEffects``: outcome, model_change_pip_cached, model_change_rebuilt,
    before_change_cached, lock_change_pip_rerun (no missing bool is taken as a hit)."""
    r = evidence(results, "05", "CacheEffects")
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
    """05 ``ModelLayer``: outcome, ids_differ, changed_layers, model_layer, only_model_layer,
    same_build_args.

    What would make it fail: the same image ID after only the model file changed. The control:
    both builds get the same build arguments (the model's sha256 label held fixed), so a new ID
    can come from the file alone; where they did not, the verdict holds only in part."""
    r = evidence(results, "05", "ModelLayer")
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
    corrected run says whether adding ``app.run()`` is all it lacks."""
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


def _stats(results: Results) -> Evidence:
    """05 ``DockerStats`` when its ``docker stats`` answered, else 06's."""
    problems = []
    for lab in ("05", "06"):
        try:
            r = evidence(results, lab, "DockerStats", outcome=None)
        except NotMeasured as missing:
            problems.append(str(missing))
            continue
        if r.get("returncode") == 0:
            return r
        problems.append(f"{r.where}: docker stats failed: {r.get('error') or 'no return code'}")
    if all(p.startswith("DockerStats not recorded") for p in problems):
        raise NotMeasured("DockerStats not recorded: run lab 05 (or 06)")
    raise NotMeasured("; ".join(problems))


def judge_c13(results: Results) -> Judgement:
    """05 ``DockerStats`` (else 06's): returncode, error, columns, gpu_column, gpu_fields,
    cpu_percent, mem_usage. A failed ``docker stats`` is not an empty table."""
    r = _stats(results)
    gpu_column = bool(r.need("gpu_column"))
    gpu = ", ".join(r.get("gpu_fields") or []) or "none"
    measured = (
        f"columns: {', '.join(r.need('columns'))}; CPU {r.get('cpu_percent') or '?'}, memory "
        f"{r.get('mem_usage') or '?'}; GPU fields in the stats API: {gpu} {r.source}"
    )
    if gpu_column:
        return Judgement(measured, Verdict.holds("CPU, memory and GPU memory are shown"))
    return Judgement(
        measured,
        Verdict.does_not_hold(
            "CPU % and memory yes, but docker stats has no GPU memory column "
            "(GPU memory comes from nvidia-smi)"
        ),
    )
