"""Pixel analysis for the elements the accessibility tree does not box: an icon's glyph apart
from its label, a title-bar button found by its template, and what other windows cover."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def changed(a: np.ndarray, b: np.ndarray, threshold: int = 24) -> np.ndarray:
    """Where two renders of the same screen differ (any channel by more than `threshold`)."""
    return (np.abs(a.astype(np.int16) - b.astype(np.int16)) > threshold).any(axis=-1)


def glyph_box(mask: np.ndarray, cell: Box, icon_px: int, gap: int = 3) -> Box | None:
    """The glyph of an icon whose pixels (glyph above, label below) are `mask` inside `cell`.

    The glyph is the first run of marked rows from the top, ended by `gap` empty rows (the
    space above the label) and never taller than the icon (`icon_px`)."""
    x0, y0, x1, y1 = cell
    sub = mask[max(0, y0) : y1, max(0, x0) : x1]
    rows = np.flatnonzero(sub.any(axis=1))
    if rows.size == 0:
        return None
    top = bottom = int(rows[0])
    for r in rows[1:]:
        if r - bottom > gap or r - top >= icon_px:
            break
        bottom = int(r)
    band = sub[top : bottom + 1]
    cols = np.flatnonzero(band.any(axis=0))
    # Only the columns near the glyph's own body: a label wider than the icon is not in these rows.
    return (max(0, x0) + int(cols[0]), max(0, y0) + top, max(0, x0) + int(cols[-1]) + 1, max(0, y0) + bottom + 1)


def background_mask(img: np.ndarray, box: Box, tolerance: int = 10) -> np.ndarray:
    """Inside `box` of a flat background (an icon view): the pixels that are not background,
    the background being the most common colour on the box's border."""
    x0, y0, x1, y1 = box
    sub = img[y0:y1, x0:x1].astype(np.int16)
    border = np.concatenate([sub[0], sub[-1], sub[:, 0], sub[:, -1]])
    colors, counts = np.unique(border, axis=0, return_counts=True)
    bg = colors[counts.argmax()]
    full = np.zeros(img.shape[:2], bool)
    full[y0:y1, x0:x1] = (np.abs(sub - bg) > tolerance).any(axis=-1)
    return full


def match_template(img: np.ndarray, template: np.ndarray, region: Box, tolerance: float = 4.0) -> Box | None:
    """Where `template` appears inside `region` of `img`, exactly up to a mean absolute
    difference of `tolerance` per channel; the best such place, or None."""
    found = template_matches(img, template, region, tolerance)
    return found[0] if found else None


def template_matches(img: np.ndarray, template: np.ndarray, region: Box, tolerance: float = 4.0) -> list[Box]:
    """Every distinct place where `template` appears inside `region` of `img` (mean absolute
    difference ≤ `tolerance` per channel), best first; of overlapping places only the best.

    A glyph can appear inside another: a minimize bar is part of a maximize plus."""
    th, tw = template.shape[:2]
    x0, y0, x1, y1 = region
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(img.shape[1], x1), min(img.shape[0], y1)
    if x1 - x0 < tw or y1 - y0 < th:
        return []
    area = img[y0:y1, x0:x1].astype(np.int16)
    windows = np.lib.stride_tricks.sliding_window_view(area, (th, tw, 3))[:, :, 0]
    err = np.abs(windows - template.astype(np.int16)).mean(axis=(2, 3, 4))
    iys, ixs = np.nonzero(err <= tolerance)
    kept: list[Box] = []
    # stable sort: equal errors keep raster order, so the first of ties stays first as before
    for i in np.argsort(err[iys, ixs], kind="stable"):
        box = (x0 + int(ixs[i]), y0 + int(iys[i]), x0 + int(ixs[i]) + tw, y0 + int(iys[i]) + th)
        if not covered(box, kept):
            kept.append(box)
    return kept


def square(box: Box, min_side: int) -> tuple[float, float, float, float]:
    """ANNOTATION.md's title-bar button box: a square centred on the drawing, side = the larger
    of its width, its height and `min_side`."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, min_side)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def covered(box: Sequence[float], above: Sequence[Box]) -> bool:
    """Whether any of the rectangles `above` overlaps `box`."""
    x0, y0, x1, y1 = box
    return any(min(x1, b[2]) > max(x0, b[0]) and min(y1, b[3]) > max(y0, b[1]) for b in above)


def visible_part(box: Box, above: Sequence[Box], min_fraction: float = 0.5) -> Box | None:
    """The bounding box of what of `box` is not under `above`, if at least `min_fraction` of
    its area is visible; None otherwise (ANNOTATION.md's rule for windows)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.ones((y1 - y0, x1 - x0), bool)
    for b in above:
        ax0, ay0 = max(b[0] - x0, 0), max(b[1] - y0, 0)
        ax1, ay1 = min(b[2] - x0, x1 - x0), min(b[3] - y0, y1 - y0)
        if ax1 > ax0 and ay1 > ay0:
            mask[ay0:ay1, ax0:ax1] = False
    if mask.mean() < min_fraction:
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
