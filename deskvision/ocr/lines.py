"""Text pixels and text lines of a small screen region (a label, a button, a title bar).

GUI text is small (8-10 px x-height) and drawn on anything from flat panels to wallpapers, in
light and dark themes: the region is enlarged, split at an Otsu threshold with the text on the
minority side, and cut into lines by its empty rows, so that OCR engines read one clean black
line on white at a time.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def otsu_threshold(grey: np.ndarray) -> int:
    """The grey level that best splits the histogram in two classes (Otsu's method)."""
    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * levels)
    mu0, mu1 = m0 / np.maximum(w0, 1), (m0[-1] - m0) / np.maximum(w1, 1)
    return int(np.argmax(w0 * w1 * (mu0 - mu1) ** 2))


def text_mask(region: Image.Image, upscale: int = 2) -> np.ndarray:
    """Boolean mask of the text pixels of `region`, enlarged `upscale` times."""
    grey = ImageOps.grayscale(region)
    if upscale > 1:
        grey = grey.resize((grey.width * upscale, grey.height * upscale), Image.Resampling.BICUBIC)
    a = np.asarray(grey)
    dark = a <= otsu_threshold(a)
    mask = dark if dark.mean() < 0.5 else ~dark
    # Frame borders and separators are not text: clear lines that cross most of the region.
    mask[:, mask.mean(axis=0) > 0.8] = False
    mask[mask.mean(axis=1) > 0.8, :] = False
    return mask


def _runs(flags: np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """[start, end) runs of True, joining runs separated by at most `max_gap` False values."""
    idx = np.flatnonzero(flags)
    if not idx.size:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]] + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def split_lines(
    mask: np.ndarray, drop_cut: bool = False, max_lines: int = 3, drop_icons: bool = False
) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the text lines in `mask`, top to bottom.

    With `drop_cut` (icon labels, read from a region wider than the label): lines touching
    the region's bottom are dropped (the next icon), and so are the pieces of a line that touch
    its left or right side and stand apart from the rest (a neighbour's label).
    With `drop_icons` (title bars): a piece at either end of a line that stands apart and is
    no wider than the line is tall (a window icon or menu button) is dropped.
    """
    h, w = mask.shape
    rows = _runs(mask.any(axis=1), max_gap=1)
    if not rows:
        return []
    tallest = max(y1 - y0 for y0, y1 in rows)
    lines = []
    for y0, y1 in rows:
        if y1 - y0 < 0.35 * tallest:  # specks, underlines
            continue
        if drop_cut and y1 >= h:
            continue
        pieces = _runs(mask[y0:y1].any(axis=0), max_gap=max(2, int(0.6 * (y1 - y0))))
        if drop_cut and len(pieces) > 1:
            tol = max(2, (y1 - y0) // 8)  # anti-aliasing may leave the outermost column blank
            pieces = [p for p in pieces if p[0] > tol and p[1] < w - tol] or pieces
        if drop_icons:
            while len(pieces) > 1 and pieces[0][1] - pieces[0][0] <= 1.2 * (y1 - y0):
                pieces = pieces[1:]
            while len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] <= 1.2 * (y1 - y0):
                pieces = pieces[:-1]
        lines.append((pieces[0][0], y0, pieces[-1][1], y1))
    return lines[:max_lines] if drop_cut else lines


def line_images(region: Image.Image, upscale: int = 2, drop_cut: bool = False, drop_icons: bool = False) -> list[Image.Image]:
    """Each text line of `region` as black text on white, enlarged, with a small margin."""
    mask = text_mask(region, upscale)
    out = []
    for x0, y0, x1, y1 in split_lines(mask, drop_cut, drop_icons=drop_icons):
        pad = max(2, (y1 - y0) // 4)
        crop = mask[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
        out.append(Image.fromarray(np.where(crop, 0, 255).astype(np.uint8)))
    return out
