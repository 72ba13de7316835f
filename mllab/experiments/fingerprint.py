"""The environment E of the lecture's f(x; θ, E): capture it, save it, compare two of them.

A fingerprint M(E) is a JSON-able dict: OS, Python, package versions, CPU, cgroup limits,
NVIDIA driver and CUDA, the ONNX Runtime providers that *really* work, the Docker engine and
buildah. Two environments are "the same" for the lecture when M(E1) = M(E2); :func:`diff`
lists where they are not.

This module uses the standard library only at import time, so that it also runs inside a bare
container (``python3 -m mllab.experiments.fingerprint``) where nothing but Python is installed: whatever is missing
there simply reads as ``None``, which is exactly the difference the lab wants to show.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from mllab.runtime import cgroup

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
#: A 65-byte ONNX model (y = Relu(x), opset 13): enough to create a session on any provider
#: without needing the onnx package, so the probe also works inside the slim image.
PROBE_MODEL = base64.b64decode(
    "CAg6NwoMCgF4EgF5IgRSZWx1EgVwcm9iZVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0="
)


def _run(command: list[str], timeout: float = 10) -> str | None:
    """A command's stripped stdout, or None when it is missing or fails."""
    if not shutil.which(command[0]):
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


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


def nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version, or None when there is no NVIDIA GPU/driver."""
    version_file = Path("/proc/driver/nvidia/version")
    if version_file.exists():
        found = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", version_file.read_text())
        if found:
            return found.group(1)
    out = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return out.splitlines()[0].strip() if out else None


def nvidia_info() -> dict[str, Any]:
    """Driver, the highest CUDA the driver supports, the GPUs, and the CUDA the ORT build wants."""
    header = _run(["nvidia-smi"]) or ""
    driver_cuda = re.search(r"CUDA Version:\s*([\d.]+)", header)
    gpus = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"])
    return {
        "driver": nvidia_driver(),
        "driver_max_cuda": driver_cuda.group(1) if driver_cuda else None,
        "gpus": gpus.splitlines() if gpus else [],
        "ort_build_cuda": _ort_build_cuda(),
    }


def _ort_build_cuda() -> str | None:
    try:
        from onnxruntime.capi import build_and_package_info as info
    except ImportError:
        return None
    return getattr(info, "cuda_version", None) or None


def cuda_compatibility(info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The lecture's CUDA_container ≤ Driver_host check, stated for this machine."""
    info = info or nvidia_info()
    need, have = info.get("ort_build_cuda"), info.get("driver_max_cuda")
    if not info.get("driver"):
        verdict = "not measurable here: no NVIDIA driver on this host, so no CUDA container can run"
    elif not need:
        verdict = "no CUDA build of ONNX Runtime installed: nothing to check"
    elif not have:
        verdict = f"driver {info['driver']} found but nvidia-smi did not report its CUDA version"
    else:
        ok = _version_tuple(need) <= _version_tuple(have)
        verdict = f"CUDA {need} {'<=' if ok else '>'} driver's CUDA {have}: " + (
            "holds" if ok else "does not hold ('CUDA driver version is insufficient')"
        )
    return {"container_cuda": need, "driver_max_cuda": have, "verdict": verdict}


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


@functools.cache
def ort_working_providers() -> list[str]:
    """Providers ONNX Runtime *really* uses here: a session is created on each listed provider
    and ``get_providers()`` read back (``get_available_providers()`` alone lists CUDA even on a
    machine without a GPU)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    working = []
    # The probe's fallbacks are expected: silence ORT's logger and its Python-level print.
    ort.set_default_logger_severity(4)
    try:
        for provider in ort.get_available_providers():
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    session = ort.InferenceSession(PROBE_MODEL, providers=[provider])
            except Exception:  # noqa: BLE001 - a provider that cannot make a session is not working
                continue
            if session.get_providers()[0] == provider:
                working.append(provider)
    finally:
        ort.set_default_logger_severity(2)  # ORT's default: warnings
    return working


def ort_info() -> dict[str, Any]:
    """ONNX Runtime's version, the providers it lists and those that really work."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"version": None, "available_providers": [], "working_providers": []}
    return {
        "version": ort.__version__,
        "available_providers": ort.get_available_providers(),
        "working_providers": ort_working_providers(),
    }


def docker_info() -> dict[str, Any]:
    """The Docker client and engine versions, whether the engine answers, and buildah."""
    server = _run(["docker", "version", "--format", "{{.Server.Version}}"])
    client = _run(["docker", "version", "--format", "{{.Client.Version}}"])
    buildah = _run(["buildah", "--version"])
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
        "cuda_compatibility": cuda_compatibility(nvidia),
        "onnxruntime": ort_info(),
        "docker": docker_info(),
    }


def fingerprint_in_container(
    image: str, cpus: float | None = None, memory: str | None = None
) -> dict[str, Any]:
    """M(E) captured inside a container of ``image``: this package is mounted read-only and
    ``python3 -m mllab.experiments.fingerprint`` runs there with whatever the image has (``--cpus``/``--memory``
    optional, to see the cgroup limits appear in E)."""
    from mllab.containers.engine import client

    package = Path(__file__).resolve().parent
    output = client().containers.run(
        image,
        ["python3", "-m", "mllab.experiments.fingerprint"],
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
    width = max(len(path) for path, _, _ in rows)
    lines = [f"{'field':<{width}}  {names[0]:<32}  {names[1]}"]
    lines += [f"{path:<{width}}  {_short(a):<32}  {_short(b)}" for path, a, b in rows]
    return "\n".join(lines)


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
    ort, dock, cpu = print_["onnxruntime"], print_["docker"], print_["cpu"]
    packages = ", ".join(f"{k} {v}" for k, v in print_["packages"].items() if v)
    limits = print_["cgroup"]
    where = "  [in a container]" if print_["in_container"] else ""
    return [
        f"os        {print_['os']['distro']} (kernel {print_['os']['kernel']}){where}",
        f"python    {print_['python']['version']} ({print_['python']['executable']})",
        f"cpu       {cpu['model']}, {cpu['usable_cpus']} usable of {cpu['os_cpu_count']}",
        f"cgroup    cpu quota {limits['cpu_quota']}, memory {limits['memory_limit_bytes']}",
        f"packages  {packages}",
        f"ort       {ort['version']}: lists {ort['available_providers']}, "
        f"works {ort['working_providers']}",
        f"gpu       driver {print_['nvidia']['driver']}; {print_['cuda_compatibility']['verdict']}",
        f"docker    client {dock['client']}, engine {dock['engine'] or 'does not answer'}, "
        f"buildah {dock['buildah']}",
    ]


def _cmd_doctor(args: argparse.Namespace) -> int:
    if args.diff:
        rows = diff(load(args.diff[0]), load(args.diff[1]))
        print(format_diff(rows, (args.diff[0], args.diff[1])))
        return 0
    print_ = fingerprint()
    if args.save:
        save(print_, args.save)
    if args.json:
        print(json.dumps(print_, indent=2, sort_keys=True))
    else:
        print("\n".join(summary_lines(print_)))
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """``mllab doctor [--json] [--save PATH] [--diff A B]``."""
    doctor = sub.add_parser("doctor", help="fingerprint the environment E (lab 00)")
    doctor.add_argument("--json", action="store_true", help="print the whole fingerprint as JSON")
    doctor.add_argument("--save", metavar="PATH", help="also save the fingerprint as JSON")
    doctor.add_argument(
        "--diff", nargs=2, metavar=("A", "B"), help="compare two saved fingerprints"
    )
    doctor.set_defaults(func=_cmd_doctor)


if __name__ == "__main__":  # inside a bare container: print the fingerprint as JSON
    print(json.dumps(fingerprint(), indent=2, sort_keys=True))
