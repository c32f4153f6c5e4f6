"""Read the text of detected elements, and the free text around them.

Where each element's text is (`text_region`):
- icons (`folder`, `file`, `launcher`, `trash`): the label under the glyph, centred on it, up
  to two lines;
- `button`, `menu`: inside the box; `text_field`: inside its frame;
- `window`: the title bar, from the window's top to the bottom of its title-bar buttons
  (when they were detected), left of those buttons.
Words cut by the region's side (a neighbour's label) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from deskvision.data.images import ImageInput, load_image
from deskvision.detections import Detections
from deskvision.ocr.engines import DEFAULT_ENGINE, OcrEngine, TextLine, create_engine
from deskvision.ocr.labels import DEFAULT_ICON_RULE, check_icon_rule, relabel_icons
from deskvision.ocr.lines import line_images

ICONS = ("folder", "file", "launcher", "trash")
TITLE_BUTTONS = ("close", "minimize", "maximize")
Box = tuple[float, float, float, float]


@dataclass
class ScreenText:
    """The elements with their text, and the lines of text that belong to no element."""

    elements: Detections
    lines: list[TextLine]

    def to_dict(self) -> dict:
        return {
            "elements": self.elements.to_list(),
            "text_lines": [t.to_dict() for t in self.lines],
        }


def text_region(
    cls: str,
    box: Sequence[float],
    size: tuple[int, int],
    title_buttons: np.ndarray | None = None,
    icons: np.ndarray | None = None,
) -> Box | None:
    """Where the text of an element of class `cls` at `box` is drawn, clipped to the screen.

    `title_buttons` (close/minimize/maximize boxes) bound window titles; `icons` (other icon
    boxes) bound an icon's label halfway to its neighbours on the same row."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if cls in ICONS:
        cx, half = (x0 + x1) / 2, 1.2 * max(w, h)
        left, right = cx - half, cx + half
        if icons is not None and len(icons):
            cxs, cys = (icons[:, 0] + icons[:, 2]) / 2, (icons[:, 1] + icons[:, 3]) / 2
            row = np.abs(cys - (y0 + y1) / 2) < 0.5 * h
            left = max([left, *((cxs[row & (cxs < cx - 1)] + cx) / 2)])
            right = min([right, *((cxs[row & (cxs > cx + 1)] + cx) / 2)])
        region = (left, y1 + 1, right, y1 + 1.1 * max(w, h) + 4)
    elif cls == "window":
        bottom, right = y0 + min(h, 30.0), x1
        if title_buttons is not None and len(title_buttons):
            mine = title_buttons[(title_buttons[:, 1] >= y0 - 2) & (title_buttons[:, 3] <= y0 + 0.25 * h)]
            mine = mine[(mine[:, 0] >= x0 - 2) & (mine[:, 2] <= x1 + 2)]
            if len(mine):
                bottom = float(mine[:, 3].max()) + 1
                right = float(mine[:, 0].min()) if mine[:, 0].min() > (x0 + x1) / 2 else x1
        region = (x0 + 4, y0, right - 2, bottom)
    elif cls == "text_field":
        region = (x0 + 2, y0 + 2, x1 - 2, y1 - 2)
    else:
        region = (x0, y0, x1, y1)
    W, H = size
    region = (max(0.0, region[0]), max(0.0, region[1]), min(float(W), region[2]), min(float(H), region[3]))
    return region if region[2] - region[0] >= 4 and region[3] - region[1] >= 4 else None


def _read_region(engine: OcrEngine, img: Image.Image, region: Box, cls: str) -> str | None:
    crop = img.crop(tuple(int(round(v)) for v in region))
    text = ""
    for line in line_images(crop, upscale=2, drop_cut=cls in ICONS, drop_icons=cls == "window"):
        words = engine.read_line(line)[0].strip()
        if not words:
            continue
        # Labels wrap without hyphens: a hyphen the engine puts at a line's end is not text.
        text = text[:-1] + words if text.endswith("-") else f"{text} {words}".strip()
    return text or None


def read_text(
    image: ImageInput,
    elements: Detections,
    engine: OcrEngine | str | None = None,
    *,
    free_text: bool = False,
    icon_labels: str = DEFAULT_ICON_RULE,
) -> ScreenText:
    """Fill `text` of every element with what it reads (None where nothing is read).

    `icon_labels`: how the labels read decide between `file` and `launcher` (`relabel_icons`:
    "extension", "both" or "off"). With `free_text`, the whole screen is read too and the lines
    that lie in no element's text region are returned as `ScreenText.lines` (slower: a
    full-screen OCR pass).
    """
    check_icon_rule(icon_labels)  # before any OCR
    img = load_image(image)
    if engine is None or isinstance(engine, str):
        engine = create_engine(engine or DEFAULT_ENGINE)
    names = elements.labels
    buttons = elements.xyxy[[n in TITLE_BUTTONS for n in names]] if len(elements) else None
    icons = elements.xyxy[[n in ICONS for n in names]] if len(elements) else None
    texts: list[str | None] = []
    regions: list[Box] = []
    for box, cls in zip(elements.xyxy, names, strict=True):
        region = None if cls in TITLE_BUTTONS else text_region(cls, box, img.size, buttons, icons)
        if region is None:
            texts.append(None)
            continue
        regions.append(region)
        texts.append(_read_region(engine, img, region, cls))
    out = relabel_icons(Detections(elements.xyxy, elements.class_id, elements.scores, elements.class_names, texts), icon_labels)
    lines: list[TextLine] = []
    if free_text:
        covered = np.array(regions, np.float32).reshape(-1, 4)
        for line in engine.read(img):
            inside = _fraction_inside(np.array(line.box, np.float32), covered)
            if inside < 0.5:
                lines.append(line)
    return ScreenText(out, lines)


def _fraction_inside(box: np.ndarray, regions: np.ndarray) -> float:
    """The largest fraction of `box` that one of `regions` covers."""
    if not len(regions):
        return 0.0
    w = np.clip(np.minimum(box[2], regions[:, 2]) - np.maximum(box[0], regions[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], regions[:, 3]) - np.maximum(box[1], regions[:, 1]), 0, None)
    return float((w * h).max() / max(1e-6, float((box[2] - box[0]) * (box[3] - box[1]))))
