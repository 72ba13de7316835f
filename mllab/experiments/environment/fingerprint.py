"""The environment E of the lecture's f(x; θ, E): capture it, save it, compare two of them.

A fingerprint M(E) is a JSON-able dict: OS, Python, package versions, CPU, cgroup limits,
NVIDIA driver and CUDA, the ONNX Runtime providers that *really* work, the Docker engine and
buildah. Two environments are "the same" for the lecture when M(E1) = M(E2); :func:`diff`
lists where they are not.

This module (and what it imports: :mod:`mllab.runtime.nvidia`, :mod:`mllab.runtime.providers`,
:mod:`mllab.runtime.cgroup`, :mod:`mllab.containers.docker_cli`) uses the standard library only
at import time, so that it also runs inside a bare container
(``python3 -m mllab.experiments.environment.fingerprint``) where nothing but Python is
installed: whatever is missing there simply reads as ``None``, which is exactly the difference
the lab wants to show.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from mllab.containers import docker_cli
from mllab.core.outcome import Outcome
from mllab.core.paths import PACKAGE
from mllab.core.tables import WIDTH, format_table, hanging
from mllab.runtime import cgroup
from mllab.runtime.nvidia import nvidia_info, run_quietly
from mllab.runtime.providers import ort_working_providers

#: Packages whose versions are part of E (the lecture: framework, runtime, numpy, ...).
KEY_PACKAGES = (
    "torch",
    "torchvision",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "onnxruntime-gpu",
    "numpy",
    "pillow",
    "fastapi",
    "uvicorn",
    "papermill",
    "nbclient",
    "docker",
    "mllab",
)
#: CPU features that change which kernels numerical libraries pick (and so their results).
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "avx_vnni",
)


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (None where a package is absent)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_info() -> dict[str, Any]:
    """CPU model, the flags that matter to numerics, and core counts (host vs usable)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    present = set(flags.group(1).split()) if flags else set()
    return {
        "model": model.group(1).strip() if model else platform.processor() or None,
        "arch": platform.machine(),
        "flags": sorted(f for f in CPU_FLAGS if f in present),
        "os_cpu_count": os.cpu_count(),
        "usable_cpus": cgroup.usable_cpus(),
    }


def ort_info() -> dict[str, Any]:
    """ONNX Runtime's version, the providers it lists and those that really work."""
    try:
        import onnxruntime as ort  # optional: absent in the bare container this also runs in
    except ImportError:
        return {"version": None, "available_providers": [], "working_providers": []}
    return {
        "version": ort.__version__,
        "available_providers": ort.get_available_providers(),
        "working_providers": ort_working_providers(),
    }


def docker_info() -> dict[str, Any]:
    """The Docker client and engine versions, whether the engine answers, and buildah."""
    server, client = docker_cli.version("Server"), docker_cli.version("Client")
    buildah = run_quietly(["buildah", "--version"])
    return {
        "client": client,
        "engine": server,
        "engine_answers": server is not None,
        "buildah": buildah.split()[2] if buildah else None,
    }


def in_container() -> bool:
    """True inside a Docker (or other OCI) container."""
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    cgroup_file = Path("/proc/1/cgroup")
    return (
        cgroup_file.exists()
        and re.search(r"docker|containerd|kubepods", cgroup_file.read_text()) is not None
    )


def fingerprint() -> dict[str, Any]:
    """M(E): the fingerprint of the environment this process runs in."""
    nvidia = nvidia_info()
    release = (
        platform.freedesktop_os_release() if hasattr(platform, "freedesktop_os_release") else {}
    )
    return {
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hostname": platform.node(),
        "in_container": in_container(),
        "os": {
            "system": platform.system(),
            "kernel": platform.release(),
            "distro": release.get("PRETTY_NAME"),
            "libc": "-".join(platform.libc_ver()) or None,
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": package_versions(),
        "cpu": cpu_info(),
        "cgroup": {"cpu_quota": cgroup.cpu_quota(), "memory_limit_bytes": cgroup.memory_limit()},
        "nvidia": nvidia,
        "onnxruntime": ort_info(),
        "docker": docker_info(),
    }


def fingerprint_in_container(
    image: str, cpus: float | None = None, memory: str | None = None
) -> dict[str, Any]:
    """M(E) captured inside a container of ``image``: this package is mounted read-only and
    ``python3 -m mllab.experiments.environment.fingerprint`` runs there with whatever the image has
    (``--cpus``/``--memory`` optional, to see the cgroup limits appear in E)."""
    # deferred: the docker SDK is not in the bare container that runs this module
    from mllab.containers.engine import client

    package = PACKAGE  # the whole mllab package, not experiments/
    output = client().containers.run(
        image,
        ["python3", "-m", "mllab.experiments.environment.fingerprint"],
        remove=True,
        network_disabled=True,
        environment={"PYTHONPATH": "/opt/mllab", "PYTHONDONTWRITEBYTECODE": "1"},
        volumes={str(package): {"bind": "/opt/mllab/mllab", "mode": "ro"}},
        nano_cpus=int(cpus * 1e9) if cpus else None,
        mem_limit=memory,
    )
    return json.loads(output)


#: Fields that differ between any two captures and say nothing about E.
VOLATILE = ("captured_at", "hostname")


def diff(first: dict[str, Any], second: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Where M(E1) ≠ M(E2): (dotted path, first value, second value); volatile fields left out."""
    a, b = _flatten(first), _flatten(second)
    keys = sorted(set(a) | set(b))
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k) and k not in VOLATILE]


def format_diff(rows: list[tuple[str, Any, Any]], names: tuple[str, str] = ("E1", "E2")) -> str:
    """The rows of :func:`diff` as an aligned text table."""
    if not rows:
        return "M(E1) = M(E2): no differences"
    field = max(len("field"), *(len(path) for path, _, _ in rows))
    room = max(20, (WIDTH - field - 4) // 2)  # both values beside the field: a diff side by side
    table = [{"field": p, names[0]: _short(a, room), names[1]: _short(b, room)} for p, a, b in rows]
    return format_table(table, ["field", *names])


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def save(print_: dict[str, Any], path: str | Path) -> Path:
    """Write a fingerprint as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(print_, indent=2, sort_keys=True))
    return path


def load(path: str | Path) -> dict[str, Any]:
    """Read a fingerprint saved by :func:`save` or ``mllab doctor --json``."""
    return json.loads(Path(path).read_text())


def summary_lines(print_: dict[str, Any]) -> list[str]:
    """A short human summary of a fingerprint (what ``mllab doctor`` prints)."""
    ort, dock, cpu, nvidia = (print_[k] for k in ("onnxruntime", "docker", "cpu", "nvidia"))
    packages = ", ".join(f"{k} {v}" for k, v in print_["packages"].items() if v)
    limits = print_["cgroup"]
    where = "  [in a container]" if print_["in_container"] else ""
    lines = [
        f"os        {print_['os']['distro']} (kernel {print_['os']['kernel']}){where}",
        f"python    {print_['python']['version']} ({print_['python']['executable']})",
        f"cpu       {cpu['model']}, {cpu['usable_cpus']} usable of {cpu['os_cpu_count']}",
        f"cgroup    cpu quota {limits['cpu_quota']}, memory {limits['memory_limit_bytes']}",
        f"packages  {packages}",
        f"ort       {ort['version']}: lists {', '.join(ort['available_providers']) or 'none'}; "
        f"works {', '.join(ort['working_providers']) or 'none'}",
        f"gpu       driver {nvidia['driver']} (CUDA up to {nvidia['driver_max_cuda']}), "
        f"ORT build's CUDA {nvidia['ort_build_cuda']}, GPUs {nvidia['gpus']}",
        f"docker    client {dock['client']}, engine {dock['engine'] or 'does not answer'}, "
        f"buildah {dock['buildah']}",
    ]
    return [hanging(line[:10], line[10:]) for line in lines]  # wrapped under the value


@dataclass
class FingerprintSummary:
    """What lab 00 measured: the host's E in brief, and how the container's E differs.

    ``container`` says whether the fingerprint inside a container was taken (and why not);
    ``differences`` counts the fields of :func:`diff` (None without a container).
    """

    python: str
    kernel: str
    cpu_model: str | None
    usable_cpus: int
    available_providers: list[str]
    working_providers: list[str]
    driver: str | None
    container: Outcome
    differences: int | None = None
    kernel_equal: bool | None = None
    cpu_model_equal: bool | None = None
    files: dict[str, str] = field(default_factory=dict)

    SCHEMA_VERSION: ClassVar[int] = 1


def summarize(
    host: dict[str, Any],
    container: dict[str, Any] | None,
    container_outcome: Outcome,
    files: dict[str, str] | None = None,
) -> FingerprintSummary:
    """The :class:`FingerprintSummary` of a host fingerprint and, if taken, a container's."""
    other = container or {}
    return FingerprintSummary(
        python=host["python"]["version"],
        kernel=host["os"]["kernel"],
        cpu_model=host["cpu"]["model"],
        usable_cpus=host["cpu"]["usable_cpus"],
        available_providers=host["onnxruntime"]["available_providers"],
        working_providers=host["onnxruntime"]["working_providers"],
        driver=host["nvidia"]["driver"],
        container=container_outcome,
        differences=len(diff(host, container)) if container else None,
        kernel_equal=host["os"]["kernel"] == other["os"]["kernel"] if container else None,
        cpu_model_equal=host["cpu"]["model"] == other["cpu"]["model"] if container else None,
        files=dict(files or {}),
    )


if __name__ == "__main__":  # inside a bare container: print the fingerprint as JSON
    print(json.dumps(fingerprint(), indent=2, sort_keys=True))
