"""Learning-rate factor as a pure function of the optimizer step (so resuming is exact)."""

from __future__ import annotations

import math


def lr_factor(step: int, *, steps_per_epoch: int, epochs: int, warmup_steps: int, schedule: str, gamma: float) -> float:
    """Linear warm-up from 0.001, then ``cosine`` decay to 1% or ``step`` decay (× gamma every epoch)."""
    warm = 1.0
    if step < warmup_steps:
        alpha = step / max(1, warmup_steps)
        warm = 0.001 * (1 - alpha) + alpha
    if schedule == "constant":
        return warm
    if schedule == "step":
        return warm * gamma ** (step // max(1, steps_per_epoch))
    if schedule == "cosine":
        total = max(1, steps_per_epoch * epochs)
        progress = min(1.0, step / total)
        return warm * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
    raise ValueError(f"unknown schedule {schedule!r}")
