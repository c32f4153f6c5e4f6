"""Draw boxes with class colour, name and score, readable on dark and light screens."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from deskvision.detections import Detections

# Tableau-like colours, one per class id (cycled for larger class sets).
PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (255, 187, 120),
    (152, 223, 138),
]


def class_color(class_id: int) -> tuple[int, int, int]:
    return PALETTE[(class_id - 1) % len(PALETTE)]


def _text_color(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] > 150 else (255, 255, 255)


def draw_detections(
    image: Image.Image, detections: Detections, *, show_scores: bool = True, font_size: int | None = None
) -> Image.Image:
    """A copy of `image` with each box outlined in its class colour and a filled label tag.

    Boxes get a thin dark and light double outline so they stand out on any background.
    """
    img = image.convert("RGB").copy()
    draw = ImageDraw.Draw(img)
    scale = max(1.0, max(img.size) / 1280)
    font = ImageFont.load_default(size=font_size or round(11 * scale))
    width = max(1, round(2 * scale))
    order = sorted(range(len(detections)), key=lambda i: -float(detections.area[i]))  # big boxes first, small on top
    for i in order:
        x0, y0, x1, y1 = (float(v) for v in detections.xyxy[i])
        cid = int(detections.class_id[i])
        color = class_color(cid)
        draw.rectangle([x0 - 1, y0 - 1, x1 + 1, y1 + 1], outline=(0, 0, 0) if sum(color) > 380 else (255, 255, 255), width=1)
        draw.rectangle([x0, y0, x1, y1], outline=color, width=width)
        text = detections.class_names[cid]
        if show_scores:
            text += f" {float(detections.scores[i]):.2f}"
        if detections.text[i]:
            text += f' "{detections.text[i]}"'
        tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), text, font=font)
        tw, th = tx1 - tx0 + 4, ty1 - ty0 + 3
        ty = y0 - th if y0 - th >= 0 else y1  # above the box, or below when at the top edge
        tx = min(max(0, x0), img.width - tw)
        draw.rectangle([tx, ty, tx + tw, ty + th], fill=color)
        draw.text((tx + 2 - tx0, ty + 1 - ty0), text, fill=_text_color(color), font=font)
    return img


def save_gif(frames: Sequence[Image.Image], path: str | Path, duration_ms: int = 700, max_side: int = 960) -> None:
    """An animated GIF of `frames` (downscaled to `max_side` to stay small), looping forever."""
    if not frames:
        raise ValueError("no frames to write")
    small = []
    for f in frames:
        f = f.convert("RGB")
        factor = min(1.0, max_side / max(f.size))
        if factor < 1:
            f = f.resize((round(f.width * factor), round(f.height * factor)), Image.LANCZOS)
        small.append(f.convert("P", palette=Image.ADAPTIVE, colors=255))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    small[0].save(path, save_all=True, append_images=small[1:], duration=duration_ms, loop=0, optimize=True)
