"""Augmentations that suit screenshots. Each takes and returns (PIL image, boxes xyxy, labels).

No flips or rotations: on screens, layout and glyph orientation carry meaning.
Randomness comes from Python's `random`, which DataLoader seeds in every worker.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

Sample = tuple[Image.Image, np.ndarray, np.ndarray]


def _rescale(img: Image.Image, boxes: np.ndarray, s: float) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """`img` resized by `s`, `boxes` moved with it, and the factor applied to xyxy coordinates."""
    w, h = max(1, round(img.width * s)), max(1, round(img.height * s))
    factor = np.array([w / img.width, h / img.height] * 2, np.float32)
    return img.resize((w, h), Image.BILINEAR), boxes * factor, factor


@dataclass
class ScaleJitter:
    """Resize by a random factor: the same element at other screen scales."""

    low: float = 0.75
    high: float = 1.25
    p: float = 0.5

    def __call__(self, img: Image.Image, boxes: np.ndarray, labels: np.ndarray) -> Sample:
        if random.random() >= self.p:
            return img, boxes, labels
        img, boxes, _ = _rescale(img, boxes, random.uniform(self.low, self.high))
        return img, boxes, labels


def _crop_labels(
    boxes: np.ndarray, labels: np.ndarray, x: int, y: int, w: int, h: int, keep_visible: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Boxes and labels in the crop (x, y, w, h), and how many elements it cuts in two.

    Large elements (at least 4 % of the crop) may be cut if `keep_visible` of them stays
    inside; they keep the box of their visible part. Other cut elements are dropped."""
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(x, x + w)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(y, y + h)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = np.clip(clipped[:, 2] - clipped[:, 0], 0, None) * np.clip(clipped[:, 3] - clipped[:, 1], 0, None)
    frac = np.where(area > 0, visible / np.maximum(area, 1e-6), 0)
    whole, gone = frac > 0.999, frac < 1e-6
    big_ok = (frac >= keep_visible) & (area >= 0.04 * w * h)
    keep = whole | big_ok
    n_cut = int(np.sum(~(keep | gone)))
    return clipped[keep] - np.array([x, y, x, y], np.float32), labels[keep], n_cut


@dataclass
class CropKeepingElements:
    """Random crop that never cuts an element, except large ones (windows) left mostly visible."""

    min_fraction: float = 0.5
    p: float = 0.5
    tries: int = 20
    keep_visible: float = 0.6

    def __call__(self, img: Image.Image, boxes: np.ndarray, labels: np.ndarray) -> Sample:
        if random.random() >= self.p:
            return img, boxes, labels
        W, H = img.size
        for _ in range(self.tries):
            w = round(W * random.uniform(self.min_fraction, 1.0))
            h = round(H * random.uniform(self.min_fraction, 1.0))
            x, y = random.randint(0, W - w), random.randint(0, H - h)
            new_boxes, new_labels, n_cut = _crop_labels(boxes, labels, x, y, w, h, self.keep_visible)
            if n_cut == 0:
                return img.crop((x, y, x + w, y + h)), new_boxes, new_labels
        return img, boxes, labels


@dataclass
class CropTo:
    """Crop to at most `size` x `size` pixels around an element, without cutting small elements.

    Training cost grows with pixels, while GUI elements keep their size: 800-px crops of
    1920x1080 screens cost a third of the whole screen and show the same elements at the same
    scale. Each crop is placed around an element drawn class-balanced (a class present on the
    screen, then one of its elements): uniformly random places would rarely show what sits at
    the screen's edges (the dock's launchers, the trash in a corner), and avoiding cuts favours
    the empty middle even more. With probability `p_random` the place is uniformly random. When
    no tried place avoids cutting a small element, the place cutting the fewest is used and the
    cut elements are dropped from the labels (never labelled as a partial box).
    """

    size: int = 800
    tries: int = 20
    keep_visible: float = 0.5
    p_random: float = 0.1
    #: Zoom out (down to this scale) when the chosen element does not fit in the crop, so that
    #: large windows are also seen whole, as at inference, and not only cut at the crop's edge.
    #: 1.0: never (elements larger than the crop are then always cut).
    min_zoom: float = 1.0

    def _target(self, boxes: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
        """A class-balanced random element's box (None: place the crop anywhere)."""
        if len(labels) == 0 or random.random() < self.p_random:
            return None
        cls = random.choice(sorted(set(labels.tolist())))
        return boxes[random.choice(np.flatnonzero(labels == cls).tolist())]

    def _ranges(self, target: np.ndarray | None, W: int, H: int, w: int, h: int) -> tuple[range, range]:
        """Crop origins (x and y) that show `target` whole, if it fits."""
        full = range(0, W - w + 1), range(0, H - h + 1)
        if target is None:
            return full
        x0, y0, x1, y1 = target
        # origins keeping [a0, a1] inside [o, o + n]; an element larger than the crop keeps its centre
        out = []
        for a0, a1, n, N in ((x0, x1, w, W), (y0, y1, h, H)):
            if a1 - a0 > n:
                a0 = a1 = (a0 + a1) / 2
            lo, hi = max(0, math.ceil(a1 - n)), min(N - n, math.floor(a0))
            out.append(range(lo, hi + 1) if lo <= hi else range(0, N - n + 1))
        return out[0], out[1]

    def __call__(self, img: Image.Image, boxes: np.ndarray, labels: np.ndarray) -> Sample:
        zoomable = self.min_zoom < 1.0
        if not zoomable and img.width <= self.size and img.height <= self.size:
            return img, boxes, labels
        target = self._target(boxes, labels)
        if zoomable and target is not None:
            # a 5 % margin around it, so that its edges are not the crop's edges
            side = 1.05 * max(target[2] - target[0], target[3] - target[1])
            zoom = max(self.min_zoom, min(1.0, self.size / max(side, 1.0)))
            if zoom < 1.0:
                img, boxes, factor = _rescale(img, boxes, zoom)
                target = target * factor
        W, H = img.size
        w, h = min(W, self.size), min(H, self.size)
        if (w, h) == (W, H):
            return img, boxes, labels
        xs, ys = self._ranges(target, W, H, w, h)
        best = None
        for _ in range(self.tries):
            x, y = random.choice(xs), random.choice(ys)
            new_boxes, new_labels, n_cut = _crop_labels(boxes, labels, x, y, w, h, self.keep_visible)
            if best is None or n_cut < best[0]:
                best = (n_cut, x, y, new_boxes, new_labels)
            if n_cut == 0:
                break
        _, x, y, new_boxes, new_labels = best
        return img.crop((x, y, x + w, y + h)), new_boxes, new_labels


@dataclass
class ColorJitter:
    """Brightness, contrast and saturation changes; sometimes inverted (dark themes) or grey."""

    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.5
    invert_p: float = 0.15
    gray_p: float = 0.1

    def __call__(self, img: Image.Image, boxes: np.ndarray, labels: np.ndarray) -> Sample:
        for enhancer, amount in (
            (ImageEnhance.Brightness, self.brightness),
            (ImageEnhance.Contrast, self.contrast),
            (ImageEnhance.Color, self.saturation),
        ):
            if amount:
                img = enhancer(img).enhance(random.uniform(1 - amount, 1 + amount))
        if random.random() < self.invert_p:
            img = ImageOps.invert(img)
        if random.random() < self.gray_p:
            img = ImageOps.grayscale(img).convert("RGB")
        return img, boxes, labels


@dataclass
class Compose:
    steps: Sequence[Callable[[Image.Image, np.ndarray, np.ndarray], Sample]]

    def __call__(self, img: Image.Image, boxes: np.ndarray, labels: np.ndarray) -> Sample:
        for step in self.steps:
            img, boxes, labels = step(img, boxes, labels)
        return img, boxes, labels


def train_augmentations(strength: str = "default", crop: int = 0, min_zoom: float = 1.0) -> Compose | None:
    """The training augmentations: ``none``, ``light`` (colour only) or ``default``, with a
    random crop to at most `crop` x `crop` pixels (`CropTo`) when `crop` > 0, zooming out down
    to `min_zoom` to show elements larger than the crop whole."""
    geometry: list = [ScaleJitter(), CropKeepingElements()] if strength == "default" else []
    if crop > 0:
        geometry.append(CropTo(crop, min_zoom=min_zoom))
    colour = {"default": [ColorJitter()], "light": [ColorJitter(invert_p=0.0, gray_p=0.0)]}.get(strength, [])
    steps = geometry + colour
    return Compose(steps) if steps else None
