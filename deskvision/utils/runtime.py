"""Device choice and seeding."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

from deskvision.errors import DeskvisionError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeskvisionError(f"device {name!r} requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise DeskvisionError(f"unknown device {name!r}") from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads() -> None:
    """Use the cores we are given (DESKVISION_THREADS, else all visible ones) for CPU math."""
    n = int(os.environ.get("DESKVISION_THREADS", "0")) or len(os.sched_getaffinity(0))
    torch.set_num_threads(max(1, n))


def cpu_name() -> str:
    """The CPU's model name and architecture, for benchmark reports (model name on Linux only)."""
    arch = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({arch})"
    except OSError:
        pass
    return platform.processor() or arch
