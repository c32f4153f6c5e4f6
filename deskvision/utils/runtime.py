"""Device choice, seeding and the process settings of CPU inference."""

from __future__ import annotations

import ctypes
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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4  # mallopt's parameter numbers (glibc's malloc.h)


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20, *, every_block: bool = False) -> bool:
    """Let glibc's malloc keep the tens of megabytes each detection frees, for the next one.

    By default glibc serves such blocks with fresh `mmap`s, or trims them off its heap when
    freed, so every screenshot pays page faults again on its pyramid features, RoIAlign table
    and image batch: ~35 ms of a 1080p detection on 2 cores (BENCHMARKS.md). Here blocks up to
    `mmap_threshold` come from the heap and up to `trim_threshold` of freed memory is kept (peak
    RSS ~35 MB higher at 1080p). `every_block`: blocks of any size come from the heap (glibc
    cannot raise `mmap_threshold` above 32 MiB), for training, whose batches of 800-px crops
    free feature maps and gradients of 40 MB and more at every step (`train` asks for it:
    ~6 % faster, peak RSS ~0.1-0.2 GB higher). Process-wide, so every CLI command calls it
    (`serve` included) and `Detector` does not; a program using it may. Returns False (and
    changes nothing) off glibc, or when the environment already sets malloc's thresholds
    (``MALLOC_*_THRESHOLD_``, ``GLIBC_TUNABLES``).
    """
    env = os.environ
    if {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & env.keys() or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not a glibc-like C library
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    return done and (not every_block or bool(mallopt(_M_MMAP_MAX, 0)))


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
