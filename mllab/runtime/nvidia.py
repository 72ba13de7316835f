"""Facts about the NVIDIA driver and the CUDA the ONNX Runtime build wants.

Standard library only (onnxruntime is optional): the environment fingerprint imports this
module inside a bare container where nothing but Python is installed, and a missing driver or
runtime simply reads as ``None``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

#: where the kernel module states its version (absent without an NVIDIA driver)
DRIVER_VERSION_FILE = Path("/proc/driver/nvidia/version")


def run_quietly(command: list[str], timeout: float = 10) -> str | None:
    """A command's stripped stdout, or None when it is missing or fails."""
    if not shutil.which(command[0]):
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version, or None when there is no NVIDIA GPU/driver."""
    if DRIVER_VERSION_FILE.exists():
        text = DRIVER_VERSION_FILE.read_text()
        found = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", text)
        if found:
            return found.group(1)
    out = run_quietly(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return out.splitlines()[0].strip() if out else None


def ort_build_cuda() -> str | None:
    """The CUDA version the installed ONNX Runtime build was compiled against (None: CPU build,
    or no onnxruntime at all)."""
    try:
        # optional: absent in the bare container the fingerprint also runs in
        from onnxruntime.capi import build_and_package_info as info
    except ImportError:
        return None
    return getattr(info, "cuda_version", None) or None


def nvidia_info() -> dict[str, Any]:
    """Driver, the highest CUDA the driver supports, the GPUs, and the CUDA the ORT build wants."""
    header = run_quietly(["nvidia-smi"]) or ""
    driver_cuda = re.search(r"CUDA Version:\s*([\d.]+)", header)
    gpus = run_quietly(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"])
    return {
        "driver": nvidia_driver(),
        "driver_max_cuda": driver_cuda.group(1) if driver_cuda else None,
        "gpus": gpus.splitlines() if gpus else [],
        "ort_build_cuda": ort_build_cuda(),
    }


def version_tuple(version: str) -> tuple[int, ...]:
    """``"12.4.1"`` -> ``(12, 4, 1)``: CUDA versions compare as numbers, not text."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])
