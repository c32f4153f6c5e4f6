"""Human-like input: pointer trajectories, movement times, pauses and typing, all seeded.

- **Movement time** follows Fitts' law, ``T = a + b · log2(D / W + 1)`` (D: distance, W: target
  width), times a log-normal factor: far and small targets take longer.
- **Trajectory**: a minimum-jerk profile (position ``10τ³ − 15τ⁴ + 6τ⁵``, a bell-shaped velocity
  that starts and ends at zero) along a gently curved path (a quadratic Bézier whose control
  point lies off the straight line), with small Gaussian jitter; sometimes the primary movement
  overshoots the target and a short corrective movement comes back.
- **Typing**: log-normal inter-key intervals, longer after a space; now and then a neighbouring
  key is hit and corrected with BackSpace.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Neighbours on a QWERTY keyboard, for realistic typos.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True)
class HumanConfig:
    """The parameters of the behaviour model (defaults: an unhurried office user)."""

    fitts_a: float = 0.12  # s
    fitts_b: float = 0.11  # s per bit
    time_sigma: float = 0.15  # log-normal spread of movement times
    curvature: float = 0.12  # control-point offset, as a fraction of the distance (std)
    jitter_px: float = 0.6  # std of the pointer noise along the path
    overshoot_p: float = 0.3  # probability that a long movement overshoots
    overshoot: float = 0.06  # overshoot length, fraction of the distance (mean)
    rate_hz: float = 60.0  # pointer events per second
    click_hold: float = 0.09  # s a button stays down (mean)
    double_click_hold: float = 0.07  # s each press of a double click stays down (mean)
    double_click_gap: float = 0.09  # s from the first release to the second press (mean)
    double_click_within: float = 0.2  # s from press to press at most (GDK's default limit: 250 ms)
    key_median: float = 0.17  # s between key strokes (median)
    key_sigma: float = 0.35  # log-normal spread of key intervals
    typo_p: float = 0.03  # probability of a wrong neighbouring key, per letter
    think_median: float = 0.8  # s of a pause between actions (median)
    think_sigma: float = 0.5


def fitts_time(distance: float, width: float, cfg: HumanConfig, rng: random.Random) -> float:
    """Movement time (s) to a target `width` px wide, `distance` px away."""
    index = math.log2(distance / max(width, 1.0) + 1.0)
    return (cfg.fitts_a + cfg.fitts_b * index) * rng.lognormvariate(0.0, cfg.time_sigma)


def minimum_jerk(tau: float) -> float:
    """Position along a minimum-jerk movement at normalised time `tau` in [0, 1]."""
    return tau**3 * (10 - 15 * tau + 6 * tau**2)


def _segment(
    start: tuple[float, float], end: tuple[float, float], duration: float, cfg: HumanConfig, rng: random.Random
) -> list[tuple[float, float, float]]:
    (x0, y0), (x1, y1) = start, end
    dx, dy = x1 - x0, y1 - y0
    dist = math.hypot(dx, dy)
    off = rng.gauss(0.0, cfg.curvature) * dist
    cx, cy = (x0 + x1) / 2 - dy / max(dist, 1e-9) * off, (y0 + y1) / 2 + dx / max(dist, 1e-9) * off
    n = max(2, round(duration * cfg.rate_hz))
    points = []
    for i in range(1, n + 1):
        s = minimum_jerk(i / n)
        x = (1 - s) ** 2 * x0 + 2 * (1 - s) * s * cx + s**2 * x1
        y = (1 - s) ** 2 * y0 + 2 * (1 - s) * s * cy + s**2 * y1
        if i < n:
            x, y = x + rng.gauss(0.0, cfg.jitter_px), y + rng.gauss(0.0, cfg.jitter_px)
        points.append((duration * i / n, x, y))
    return points


def mouse_path(
    start: tuple[float, float],
    end: tuple[float, float],
    width: float,
    cfg: HumanConfig,
    rng: random.Random,
    bounds: tuple[int, int] | None = None,
) -> list[tuple[float, int, int]]:
    """Timed pointer positions ``(t, x, y)`` from `start` to exactly `end`, inside `bounds`
    (the screen's width and height) when given."""
    dist = math.hypot(end[0] - start[0], end[1] - start[1])
    if dist < 1:
        return [(0.0, round(end[0]), round(end[1]))]
    total = fitts_time(dist, width, cfg, rng)
    if dist > 3 * width and rng.random() < cfg.overshoot_p:
        k = 1 + abs(rng.gauss(cfg.overshoot, cfg.overshoot / 3))
        beyond = (start[0] + (end[0] - start[0]) * k, start[1] + (end[1] - start[1]) * k)
        main = _segment(start, beyond, 0.8 * total, cfg, rng)
        fix = _segment(beyond, end, 0.2 * total + 0.05, cfg, rng)
        raw = main + [(main[-1][0] + t, x, y) for t, x, y in fix]
    else:
        raw = _segment(start, end, total, cfg, rng)
    out = []
    for t, x, y in raw:
        if bounds is not None:
            x, y = min(max(x, 0), bounds[0] - 1), min(max(y, 0), bounds[1] - 1)
        out.append((t, round(x), round(y)))
    return out


def click_timing(count: int, cfg: HumanConfig, rng: random.Random) -> list[tuple[float, float]]:
    """``(pause before the press, hold)`` for each press of a click (`count` 1) or a double or
    triple click. Toolkits tell a double click from two clicks by the time from press to press
    (GDK: 250 ms without a settings daemon, 400 ms on most desktops), so the presses of a
    multiple click stay within `cfg.double_click_within` of each other, as a person's do."""
    if count <= 1:
        return [(0.0, max(0.02, rng.gauss(cfg.click_hold, 0.02)))]
    out: list[tuple[float, float]] = []
    for i in range(count):
        hold = max(0.03, rng.gauss(cfg.double_click_hold, 0.015))
        gap = max(0.03, rng.gauss(cfg.double_click_gap, 0.02)) if i else 0.0
        if i and out[-1][1] + gap > cfg.double_click_within:
            gap = max(0.01, cfg.double_click_within - out[-1][1])
        out.append((gap, hold))
    return out


def think_time(cfg: HumanConfig, rng: random.Random, scale: float = 1.0) -> float:
    """A pause between two actions (s)."""
    return scale * cfg.think_median * rng.lognormvariate(0.0, cfg.think_sigma)


def _neighbour(ch: str, rng: random.Random) -> str | None:
    low = ch.lower()
    for r, row in enumerate(_ROWS):
        c = row.find(low)
        if c >= 0:
            options = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
            options += [_ROWS[rr][c] for rr in (r - 1, r + 1) if 0 <= rr < len(_ROWS) and c < len(_ROWS[rr])]
            pick = rng.choice(options)
            return pick.upper() if ch.isupper() else pick
    return None


def keystrokes(text: str, cfg: HumanConfig, rng: random.Random) -> list[tuple[float, str]]:
    """``(delay before the stroke, key)`` pairs that type `text`, typos corrected with
    "bsp" (BackSpace). Typing the keys in order leaves exactly `text`."""
    out: list[tuple[float, str]] = []

    def delay(prev: str) -> float:
        d = cfg.key_median * rng.lognormvariate(0.0, cfg.key_sigma)
        return d * (1.6 if prev == " " else 1.0)

    prev = ""
    for ch in text:
        wrong = _neighbour(ch, rng) if ch.isalpha() and rng.random() < cfg.typo_p else None
        if wrong:
            out.append((delay(prev), wrong))
            out.append((delay(wrong) * 1.8, "bsp"))  # noticing the slip takes a moment
        out.append((delay(prev), ch))
        prev = ch
    return out


def replay(strokes: list[tuple[float, str]]) -> str:
    """The text that `keystrokes` leaves in a text field (for checks)."""
    typed: list[str] = []
    for _, key in strokes:
        if key == "bsp":
            if typed:
                typed.pop()
        else:
            typed.append(key)
    return "".join(typed)
