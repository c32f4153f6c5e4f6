"""Toy desktops drawn from PIL shapes: wallpaper, desktop icons with labels, windows with title
bars, menus, toolbars, buttons and entries. Labels are exact by construction and follow
ANNOTATION.md (glyph-only icon boxes, square title-bar button boxes, occlusion handled)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.via import write_via
from deskvision.synth.layout import Canvas, resolve_occlusion
from deskvision.utils.progress import track

WORDS = [
    "Documents",
    "Music",
    "Pictures",
    "Videos",
    "Downloads",
    "Projects",
    "notes.txt",
    "report.pdf",
    "photo.png",
    "budget.ods",
    "Archive",
    "src",
    "backup",
    "todo.md",
    "Terminal",
    "Editor",
    "Browser",
    "Mail",
    "data.csv",
]
MENUS = ["File", "Edit", "View", "Go", "Tools", "Help", "Bookmarks"]
BUTTONS = ["OK", "Cancel", "Open", "Save", "Apply", "Close", "Back", "Search"]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _color(rng: random.Random, dark: bool | None = None) -> tuple[int, int, int]:
    base = rng.randint(20, 90) if dark else rng.randint(170, 250) if dark is False else rng.randint(0, 255)
    return tuple(int(np.clip(base + rng.randint(-40, 40), 0, 255)) for _ in range(3))


def _glyph(c: Canvas, kind: str, x: int, y: int, s: int) -> None:
    """Draw an icon glyph of side `s` at (x, y) and label its visible extent."""
    d, rng = c.draw, c.rng
    if kind == "folder":
        col = rng.choice([(230, 180, 60), (90, 140, 210), (140, 140, 150), (120, 170, 90)])
        dark = tuple(int(v * 0.8) for v in col)
        d.rectangle([x, y + s * 0.12, x + s * 0.42, y + s * 0.3], fill=dark)
        d.rectangle([x, y + s * 0.22, x + s - 1, y + s * 0.85], fill=col, outline=dark)
        box = [x, y + s * 0.12, x + s, y + s * 0.85 + 1]
    elif kind == "file":
        w = int(s * 0.72)
        x0 = x + (s - w) // 2
        d.polygon(
            [(x0, y), (x0 + w * 0.7, y), (x0 + w - 1, y + w * 0.3), (x0 + w - 1, y + s - 1), (x0, y + s - 1)],
            fill=(250, 250, 250),
            outline=(120, 120, 120),
        )
        band = rng.choice([(200, 60, 60), (60, 120, 200), (60, 160, 90), (150, 150, 150)])
        d.rectangle([x0 + 3, y + s * 0.55, x0 + w - 4, y + s * 0.72], fill=band)
        for k in range(3):
            d.line([x0 + 4, y + s * (0.25 + 0.08 * k), x0 + w - 6, y + s * (0.25 + 0.08 * k)], fill=(160, 160, 160))
        box = [x0, y, x0 + w, y + s]
    elif kind == "launcher":
        col = _color(rng)
        if rng.random() < 0.5:
            d.rounded_rectangle([x, y, x + s - 1, y + s - 1], radius=s // 5, fill=col)
        else:
            d.ellipse([x, y, x + s - 1, y + s - 1], fill=col)
        inner = _color(rng)
        d.polygon([(x + s * 0.3, y + s * 0.25), (x + s * 0.75, y + s * 0.5), (x + s * 0.3, y + s * 0.75)], fill=inner)
        box = [x, y, x + s, y + s]
    else:  # trash
        grey = rng.choice([(150, 155, 160), (110, 120, 130), (90, 150, 100)])
        d.rectangle([x + s * 0.15, y + s * 0.08, x + s * 0.85, y + s * 0.2], fill=grey)
        d.polygon(
            [(x + s * 0.2, y + s * 0.25), (x + s * 0.8, y + s * 0.25), (x + s * 0.72, y + s - 1), (x + s * 0.28, y + s - 1)],
            fill=grey,
            outline=(60, 60, 60),
        )
        for k in (0.4, 0.5, 0.6):
            d.line([x + s * k, y + s * 0.35, x + s * k, y + s * 0.9], fill=(70, 70, 70))
        box = [x + s * 0.15, y + s * 0.08, x + s * 0.85, y + s]
    c.add(box, kind)


def _icon_with_label(c: Canvas, kind: str, x: int, y: int, s: int, text_color) -> None:
    _glyph(c, kind, x, y, s)
    name = "Trash" if kind == "trash" else c.rng.choice(WORDS)
    font = _font(max(9, s // 4))
    tw = c.draw.textlength(name, font=font)
    c.draw.text((x + s / 2 - tw / 2, y + s + 3), name, fill=text_color, font=font)


def _titlebar_button(c: Canvas, kind: str, cx: float, cy: float, g: int, fg, round_bg) -> None:
    d = c.draw
    if round_bg is not None and kind == "close":
        d.ellipse([cx - g * 0.75, cy - g * 0.75, cx + g * 0.75, cy + g * 0.75], fill=round_bg)
    h = g / 2
    if kind == "close":
        d.line([cx - h, cy - h, cx + h, cy + h], fill=fg, width=2)
        d.line([cx - h, cy + h, cx + h, cy - h], fill=fg, width=2)
    elif kind == "minimize":
        d.line([cx - h, cy + h - 1, cx + h, cy + h - 1], fill=fg, width=2)
    else:
        d.rectangle([cx - h, cy - h, cx + h, cy + h], outline=fg, width=2)
    side = max(16, g * 1.5 if (round_bg is not None and kind == "close") else g + 2)
    c.add([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], kind)


def _window(c: Canvas, box: list[int], dark: bool) -> None:
    rng, d = c.rng, c.draw
    c.layer += 1
    x0, y0, x1, y1 = box
    bg = _color(rng, dark=dark)
    fg = (230, 230, 230) if dark else (30, 30, 30)
    title_h = rng.choice([24, 28, 32])
    title_bg = tuple(int(v * 0.85) for v in bg)
    d.rectangle(box, fill=bg, outline=tuple(int(v * 0.6) for v in bg))
    d.rectangle([x0, y0, x1, y0 + title_h], fill=title_bg)
    font = _font(12)
    title = rng.choice(WORDS) + " - " + rng.choice(["Files", "Editor", "Settings", "Viewer"])
    d.text(((x0 + x1) / 2 - d.textlength(title, font=font) / 2, y0 + title_h / 2 - 7), title, fill=fg, font=font)
    g = rng.choice([8, 10, 12])
    round_bg = (220, 80, 60) if rng.random() < 0.4 else None
    left = rng.random() < 0.2
    spacing = max(20, title_h - 4)
    for k, kind in enumerate(("close", "maximize", "minimize")):
        cx = x0 + spacing * (k + 0.7) if left else x1 - spacing * (k + 0.7)
        _titlebar_button(
            c, kind, cx, y0 + title_h / 2, g, fg if round_bg is None or kind != "close" else (255, 255, 255), round_bg
        )
    y = y0 + title_h + 2
    if rng.random() < 0.7:  # menu bar
        mx = x0 + 6
        for name in rng.sample(MENUS, rng.randint(3, 5)):
            w = d.textlength(name, font=font) + 14
            if mx + w > x1 - 4:
                break
            d.text((mx + 7, y + 4), name, fill=fg, font=font)
            c.add([mx, y, mx + w, y + 22], "menu")
            mx += w
        y += 24
    if rng.random() < 0.7:  # toolbar: buttons and a location entry
        bx = x0 + 6
        for _ in range(rng.randint(1, 3)):
            d.rounded_rectangle(
                [bx, y + 3, bx + 30, y + 31],
                radius=4,
                fill=tuple(int(v * 0.92) for v in bg),
                outline=tuple(int(v * 0.7) for v in bg),
            )
            d.polygon([(bx + 19, y + 9), (bx + 10, y + 17), (bx + 19, y + 25)], fill=fg)
            c.add([bx, y + 3, bx + 31, y + 32], "button")
            bx += 36
        if x1 - 10 - bx > 80:
            d.rectangle(
                [bx + 4, y + 5, x1 - 10, y + 29], fill=(255, 255, 255) if not dark else (35, 35, 35), outline=(130, 130, 130)
            )
            d.text((bx + 10, y + 10), "/home/user/" + rng.choice(WORDS), fill=fg, font=font)
            c.add([bx + 4, y + 5, x1 - 9, y + 30], "text_field")
        y += 36
    # Content: an icon view, or a dialog-like form.
    if rng.random() < 0.6:
        s = rng.choice([32, 48, 64])
        cell = s + 40
        for row in range(max(0, (y1 - y - 10) // (cell + 10))):
            for col in range(max(0, (x1 - x0 - 10) // cell)):
                if rng.random() < 0.8:
                    _icon_with_label(
                        c, rng.choice(["folder", "folder", "file"]), x0 + 10 + col * cell + 20, y + 8 + row * (cell + 10), s, fg
                    )
    else:
        fy = y + 12
        while fy + 70 < y1:
            if x1 - x0 > 200:
                d.text((x0 + 12, fy + 5), rng.choice(["Name:", "Search:", "Path:"]), fill=fg, font=font)
                d.rectangle(
                    [x0 + 80, fy, x1 - 14, fy + 26], fill=(255, 255, 255) if not dark else (35, 35, 35), outline=(130, 130, 130)
                )
                c.add([x0 + 80, fy, x1 - 13, fy + 27], "text_field")
            fy += 38
        bx = x1 - 12
        for name in rng.sample(BUTTONS, 2):
            w = int(d.textlength(name, font=font)) + 30
            if bx - w < x0 + 10 or y1 - 40 < y:
                break
            d.rounded_rectangle(
                [bx - w, y1 - 40, bx, y1 - 12], radius=5, fill=tuple(int(v * 0.9) for v in bg), outline=(120, 120, 120)
            )
            d.text((bx - w + 15, y1 - 33), name, fill=fg, font=font)
            c.add([bx - w, y1 - 40, bx + 1, y1 - 11], "button")
            bx -= w + 10
    c.windows.append([x0, y0, x1 + 1, y1 + 1])
    c.add([x0, y0, x1 + 1, y1 + 1], "window")


def toy_screenshot(
    seed: int, size: tuple[int, int] = (1280, 720), windows: int | None = None
) -> tuple[Image.Image, np.ndarray, list[str], dict]:
    """One toy desktop: (image, boxes xyxy, labels, look attributes)."""
    rng = random.Random(seed)
    w, h = size
    c = Canvas(size, rng)
    dark = rng.random() < 0.35
    top, bottom = _color(rng, dark=dark), _color(rng, dark=dark)
    grad = np.linspace(0, 1, h)[:, None, None]
    c.img.paste(Image.fromarray((np.array(top) * (1 - grad) + np.array(bottom) * grad).repeat(w, axis=1).astype(np.uint8)))
    c.draw = ImageDraw.Draw(c.img)
    text_color = (255, 255, 255) if dark or rng.random() < 0.5 else (20, 20, 20)
    s = rng.choice([32, 48, 48, 64])
    cell_w, cell_h = s + 40, s + 34
    cols, rows = max(1, min(3, w // (4 * cell_w))), max(1, (h - 20) // cell_h)
    kinds = ["folder", "file", "launcher"]
    for col in range(cols):
        for row in range(rows):
            if rng.random() < 0.6:
                kind = "trash" if (col, row) == (0, rows - 1) else rng.choice(kinds)
                _icon_with_label(c, kind, 10 + col * cell_w + 20, 10 + row * cell_h, s, text_color)
    n_windows = rng.randint(1, 3) if windows is None else windows
    for _ in range(n_windows):
        ww, wh = rng.randint(min(w - 20, 260), max(261, int(w * 0.6))), rng.randint(min(h - 20, 200), max(201, int(h * 0.7)))
        ww, wh = min(ww, w - 20), min(wh, h - 20)
        x0, y0 = rng.randint(cols * cell_w // 2, max(cols * cell_w // 2, w - ww - 1)), rng.randint(0, h - wh - 1)
        _window(c, [x0, y0, x0 + ww - 1, y0 + wh - 1], dark if rng.random() < 0.7 else not dark)
    boxes, labels, _ = resolve_occlusion(c, size)
    return c.img, boxes, labels, {"look": f"toy-{'dark' if dark else 'light'}-{s}", "generator": "toy"}


def generate_toy(
    out: str | Path,
    images: int,
    seed: int = 0,
    size: tuple[int, int] = (1280, 720),
    windows: int | None = None,
    classes: Sequence[str] | None = None,
    progress: bool = True,
) -> AnnotationSet:
    """Write `images` toy screenshots as PNG plus ``annotations.json`` (VIA) under `out`."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    anns = []
    for i in track(range(images), "toy screens", enabled=progress):
        img, boxes, labels, attrs = toy_screenshot(seed * 100_000 + i, size, windows)
        if classes is not None:
            keep = [lab in classes for lab in labels]
            boxes, labels = boxes[np.array(keep, bool)], [lab for lab, k in zip(labels, keep, strict=True) if k]
        name = f"toy_{seed}_{i:05d}.png"
        img.save(out / "images" / name)
        anns.append(ImageAnnotation(name, boxes, labels, img.width, img.height, attrs))
    result = AnnotationSet(anns, out / "images", str(out))
    write_via(result, out / "annotations.json")
    return result
