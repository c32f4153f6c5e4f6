"""What every synthetic screen shares: a canvas that records labelled boxes per window layer,
and the occlusion rule of ANNOTATION.md."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw


class Canvas:
    """An image plus labelled boxes, and the windows drawn so far (for occlusion)."""

    def __init__(self, size: tuple[int, int], rng: random.Random):
        self.img = Image.new("RGB", size)
        self.draw = ImageDraw.Draw(self.img)
        self.rng = rng
        self.items: list[tuple[list[float], str, int]] = []  # box, label, layer (0 = desktop, k = k-th window)
        self.texts: list[str | None] = []  # the text each item shows, aligned with `items`
        self.layer = 0
        self.windows: list[list[float]] = []

    def add(self, box: Sequence[float], label: str, text: str | None = None) -> None:
        self.items.append(([float(v) for v in box], label, self.layer))
        self.texts.append(text)


def resolve_occlusion(c: Canvas, size: tuple[int, int]) -> tuple[np.ndarray, list[str], list[str | None]]:
    """Drop elements covered by a later window; keep a window's visible part if most is visible."""
    w, h = size
    boxes, labels, texts = [], [], []
    for (box, label, layer), text in zip(c.items, c.texts, strict=True):
        above = c.windows[layer:]  # windows drawn after this element's own layer
        if label == "window":
            mask = np.zeros((h, w), bool)
            x0, y0, x1, y1 = (int(v) for v in box)
            mask[max(0, y0) : y1, max(0, x0) : x1] = True
            full = mask.sum()
            for wx0, wy0, wx1, wy1 in above:
                mask[max(0, int(wy0)) : int(wy1), max(0, int(wx0)) : int(wx1)] = False
            if full == 0 or mask.sum() < 0.5 * full:
                continue
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            box = [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]
        elif any(box[0] < wx1 and box[2] > wx0 and box[1] < wy1 and box[3] > wy0 for wx0, wy0, wx1, wy1 in above):
            continue
        box = [min(max(box[0], 0), w), min(max(box[1], 0), h), min(max(box[2], 0), w), min(max(box[3], 0), h)]
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            boxes.append(box)
            labels.append(label)
            texts.append(text)
    return np.array(boxes, np.float32).reshape(-1, 4), labels, texts
