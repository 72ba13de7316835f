"""Lab 00's exercises: where two environments E differ, and the lecture's CUDA_container ≤
Driver_host as a function of two version strings.

* ``ex00_diff`` — ``differing_fields(e1, e2)``: the dotted paths of the fingerprint fields whose
  values differ (``packages.numpy``, ``cgroup.cpu_quota``, ...), a field present on one side
  only included, the volatile ``captured_at``/``hostname`` left out. The kit's reference is
  :func:`mllab.experiments.environment.fingerprint.diff`.
* ``ex00_cuda`` — ``cuda_compatible(container_cuda, driver_max_cuda)``: True when a container
  built for that CUDA runs on a driver supporting up to that CUDA. Versions compare as numbers
  ("12.10" is newer than "12.9"), which a string comparison gets wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from packaging.version import InvalidVersion, Version

from mllab.exercises.check import Check, expect_cases, expect_equal, over_cases, self_check
from mllab.exercises.messages import localize
from mllab.experiments.environment import fingerprint as env

SECTION_E = (
    "«Проверка идентичности контейнеров» (M(E1) = M(E2), compared field by field) and "
    "«Проблема зависимости окружений в ML» (A = (f, θ, R, E))"
)
SECTION_CUDA = (
    "«Управление версиями CUDA и драйверов» (v_driver^host ≥ v_cuda^container, "
    "versions compared as numbers)"
)

#: (container CUDA, highest CUDA of the host driver): both orders, equal, 12.10 vs 12.9, majors
CUDA_CASES = (
    ("12.4", "12.8"),
    ("12.8", "12.8"),
    ("12.9", "12.8"),
    ("11.8", "12.0"),
    ("13.0", "12.9"),
    ("12.10", "12.9"),
    ("12.2", "12.10"),
    ("12", "12.0"),
)


def reference_differing_fields(e1: dict[str, Any], e2: dict[str, Any]) -> list[str]:
    """The kit's answer to ``ex00_diff``."""
    return [path for path, _, _ in env.diff(e1, e2)]


def reference_cuda_compatible(container_cuda: str, driver_max_cuda: str) -> bool:
    """The kit's answer to ``ex00_cuda``: the container's CUDA is at most the driver's."""
    return Version(container_cuda) <= Version(driver_max_cuda)


def made_up_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two small fingerprints whose differences are known: a nested package, a field missing on
    one side, a cgroup limit, and volatile fields that do not count."""
    e1: dict[str, Any] = {
        "captured_at": "2026-11-30T09:00:00Z",
        "hostname": "laptop",
        "os": {"kernel": "6.8.0", "distro": "Ubuntu 24.04"},
        "python": {"version": "3.11.9", "executable": "/home/me/.venv/bin/python"},
        "packages": {"numpy": "2.1.3", "torch": "2.14.0", "onnxruntime": "1.23.2"},
        "cgroup": {"cpu_quota": None, "memory_limit_bytes": None},
    }
    e2 = copy.deepcopy(e1)
    e2.update(captured_at="2026-11-30T09:05:00Z", hostname="3f2a9c1d")
    e2["os"]["distro"] = "Debian GNU/Linux 12 (bookworm)"
    e2["python"]["executable"] = "/usr/local/bin/python3"
    e2["packages"].update(numpy="2.1.3", torch=None)
    del e2["packages"]["onnxruntime"]
    e2["cgroup"]["cpu_quota"] = 1.0
    return e1, e2


def _same_fields(answer: Any, reference: list[str]) -> str | None:
    if not isinstance(answer, list | tuple | set):
        return f"expected a list of dotted field paths, got {type(answer).__name__}"
    missing = sorted(set(reference) - set(answer))
    extra = sorted(set(answer) - set(reference))
    if not missing and not extra:
        return None
    found = "; ".join(
        part
        for part in (
            f"missing {missing[:3]}" if missing else "",
            f"extra {extra[:3]}" if extra else "",
        )
        if part
    )
    if any("." not in field for field in extra) and any("." in f for f in missing):
        return f"compare the nested fields ('packages.numpy'), not whole sections: {found}"
    if set(extra) & set(env.VOLATILE):
        return f"leave out {list(env.VOLATILE)}, they differ in any two captures: {found}"
    return found


def check_differing_fields(
    differing_fields: Callable[[dict, dict], list[str]],
    host: dict[str, Any],
    container: dict[str, Any] | None = None,
) -> Check:
    """``ex00_diff``: the student's function on the made-up pair and, when the container's
    fingerprint was taken, on host vs container. ``value``: the fields that differ between host
    and container (None without a container)."""
    pairs = [made_up_pair()] + ([(host, container)] if container else [])
    labels = ["a made-up pair", "host vs container"][: len(pairs)]
    checked = self_check(
        "ex00_diff",
        over_cases(differing_fields, pairs),
        reference=lambda: [reference_differing_fields(a, b) for a, b in pairs],
        compare=expect_cases("differing_fields", pairs, _same_fields, labels),
        section=SECTION_E,
        blame=differing_fields,
        passed=lambda found: (
            f"{len(found[-1])} fields differ between host and container"
            if container
            else "right on a made-up pair (no container fingerprint to compare here)"
        ),
    )
    return replace(checked, value=checked.value[1] if container else None)


def check_cuda_rule(
    cuda_compatible: Callable[[str, str], bool],
    container_cuda: str | None = None,
    driver_max_cuda: str | None = None,
) -> Check:
    """``ex00_cuda``: the student's rule on :data:`CUDA_CASES`. ``value``: the function to use
    (the student's if right, else the kit's), and it is applied to this machine's versions when
    both are known, which the message shows."""
    checked = self_check(
        "ex00_cuda",
        over_cases(cuda_compatible, CUDA_CASES),
        reference=lambda: [reference_cuda_compatible(*case) for case in CUDA_CASES],
        compare=expect_cases(
            "cuda_compatible", CUDA_CASES, expect_equal("CUDA_container ≤ Driver_host")
        ),
        section=SECTION_CUDA,
        blame=cuda_compatible,
        passed=f"right on {len(CUDA_CASES)} version pairs",
    )
    rule = cuda_compatible if checked.passed else reference_cuda_compatible
    return replace(checked, value=rule)


def predict(
    rule: Callable[[str, str], bool], container_cuda: str | None, driver: str | None
) -> str:
    """What a rule predicts for this machine's two versions, in words (the student's language)."""
    if not container_cuda or not driver:
        return localize("nothing: a version is unknown here (no NVIDIA driver, or no CUDA build)")
    try:
        Version(container_cuda), Version(driver)
    except InvalidVersion:
        return localize(f"nothing: {container_cuda!r} or {driver!r} is not a version")
    runs = rule(container_cuda, driver)
    return localize("a CUDA session should run" if runs else "a CUDA session should fail")
