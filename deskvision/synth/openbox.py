"""Window decorations from installed openbox themes (``THEME/openbox-3/themerc`` and its XBM
button masks), drawn into the same `WMTheme` pieces as xfwm4 themes.

Openbox describes a decoration with colours and textures (``flat``/``raised``/``sunken``,
``solid``/``gradient vertical``/``splitvertical``…, ``parentrelative``) and draws each button
as a one-bit mask painted in ``window.active.button.unpressed.image.color``. Keys may hold
wildcards (``window.*.button.*.bg``): the most specific matching line wins, as in X resources.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

# openbox's built-in masks, used when a theme ships no XBM file (obrender/theme.c)
_BUILTIN = {
    "max": ["111111", "111111", "100001", "100001", "100001", "111111"],
    "close": ["110011", "111111", "011110", "011110", "111111", "110011"],
    "iconify": ["000000", "000000", "000000", "000000", "111111", "111111"],
}
MASKS = {"close": "close", "maximize": "max", "minimize": "iconify"}
PREFIX = "openbox:"


class ThemeRc:
    """``key: value`` lines of a themerc, looked up with wildcard keys."""

    def __init__(self, text: str):
        self.items: list[tuple[str, str]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("!", "#")) or ":" not in line:
                continue
            key, value = line.split(":", 1)
            self.items.append((key.strip().lower(), value.strip()))

    def get(self, key: str, default: str | None = None) -> str | None:
        hits = [
            (pattern.count("*"), -i, value) for i, (pattern, value) in enumerate(self.items) if fnmatch.fnmatchcase(key, pattern)
        ]
        return min(hits)[2] if hits else default

    def color(self, key: str, default: str) -> tuple[int, int, int]:
        value = self.get(key, default) or default
        try:
            return ImageColor.getrgb(value.split()[0])[:3]
        except ValueError:
            return ImageColor.getrgb(default)[:3]

    def number(self, key: str, default: int) -> int:
        value = self.get(key)
        return int(value) if value and value.split()[0].isdigit() else default


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb[:3])


def texture(rc: ThemeRc, key: str, size: tuple[int, int], fallback: tuple[int, int, int]) -> Image.Image | None:
    """The texture `key` (e.g. ``window.active.title.bg``) at `size`; None if parent-relative."""
    spec = (rc.get(key) or "flat solid").lower()
    if "parentrelative" in spec:
        return None
    w, h = size
    a = np.array(rc.color(key + ".color", _hex(fallback)), np.float32)
    b = np.array(rc.color(key + ".colorto", _hex(tuple(a.astype(int)))), np.float32)
    if "gradient" in spec:
        if "horizontal" in spec:
            t = np.linspace(0, 1, w)[None, :, None].repeat(h, 0)
        elif "splitvertical" in spec:
            t = np.abs(np.linspace(-1, 1, h))[:, None, None].repeat(w, 1)
        else:  # vertical, diagonal, pyramid…: a vertical ramp is close enough
            t = np.linspace(0, 1, h)[:, None, None].repeat(w, 1)
        pixels = a * (1 - t) + b * t
    else:
        pixels = np.broadcast_to(a, (h, w, 3)).copy()
    if "raised" in spec or "sunken" in spec:
        light, dark = np.clip(pixels[0, 0] * 1.25 + 20, 0, 255), pixels[0, 0] * 0.7
        top, low = (light, dark) if "raised" in spec else (dark, light)
        pixels[0, :], pixels[:, 0], pixels[-1, :], pixels[:, -1] = top, top, low, low
    if "border" in spec:
        edge = np.array(rc.color(key + ".border.color", "#000000"), np.float32)
        pixels[0, :], pixels[-1, :], pixels[:, 0], pixels[:, -1] = edge, edge, edge, edge
    return Image.fromarray(pixels.astype(np.uint8)).convert("RGBA")


def _mask(folder: Path, name: str) -> np.ndarray:
    path = folder / f"{name}.xbm"
    if path.is_file():
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("L")) > 0
        except OSError:
            pass
    return np.array([[c == "1" for c in row] for row in _BUILTIN[name]])


def load_openbox_theme(name: str):
    """The openbox theme `name` (without the ``openbox:`` prefix) as a `WMTheme`, or None."""
    from deskvision.synth.wm import THEME_DIRS, WMTheme, _glyph_box

    for base in THEME_DIRS:
        folder = base / name / "openbox-3"
        if not (folder / "themerc").is_file():
            continue
        rc = ThemeRc((folder / "themerc").read_text(errors="replace"))
        pad_w = rc.number("padding.width", 3)
        pad_h = rc.number("padding.height", pad_w)
        border = rc.number("border.width", 1)
        border_color = rc.color("window.active.border.color", rc.get("border.color") or "#000000")
        label_h = 15  # a 9-10 pt title font at 96 dpi
        th = label_h + 2 * pad_h + 2 * border
        title = texture(rc, "window.active.title.bg", (64, th), (200, 200, 200))
        if title is None:
            return None
        # the title bar sits inside the top border
        bar = Image.new("RGBA", (64, th), border_color + (255,))
        bar.paste(title.crop((0, 0, 64, th - border)), (0, border))
        side = Image.new("RGBA", (max(1, border), 1), border_color + (255,))
        corner = Image.new("RGBA", (max(1, border), th), border_color + (255,))
        bottom = Image.new("RGBA", (1, max(1, border)), border_color + (255,))
        pieces = {f"title-{i}": bar for i in range(1, 6)}
        pieces |= {"top-left": corner, "top-right": corner, "left": side, "right": side, "bottom": bottom}
        pieces |= {
            "bottom-left": bottom.resize((max(1, border), max(1, border))),
            "bottom-right": bottom.resize((max(1, border), max(1, border))),
        }
        bs = th - 2 * pad_h - 2 * border  # square buttons, as tall as the label
        buttons, boxes = {}, {}
        for cls, mask_name in MASKS.items():
            key = f"window.active.button.{mask_name}.unpressed"
            bg = texture(rc, key + ".bg", (bs, bs), (200, 200, 200))
            button = Image.new("RGBA", (bs, th), (0, 0, 0, 0))
            if bg is not None:
                button.paste(bg, (0, border + pad_h))
            mask = _mask(folder, mask_name)
            if mask.shape[0] > bs or mask.shape[1] > bs:
                return None
            glyph = np.zeros((th, bs, 4), np.uint8)
            my, mx = border + pad_h + (bs - mask.shape[0]) // 2, (bs - mask.shape[1]) // 2
            glyph[my : my + mask.shape[0], mx : mx + mask.shape[1]][mask] = (*rc.color(key + ".image.color", "#000000"), 255)
            button = Image.alpha_composite(button, Image.fromarray(glyph, "RGBA"))
            box = _glyph_box(button, bar)
            if box is None:
                return None
            buttons[cls], boxes[cls] = button, box
        text = rc.color("window.active.label.text.color", "#000000")
        theme_rc = {
            "button_offset": str(pad_w),
            "button_spacing": str(pad_w),
            "active_text_color": _hex(text),
        }
        return WMTheme(PREFIX + name, pieces, buttons, boxes, theme_rc)
    return None


def installed_openbox_themes() -> list[str]:
    from deskvision.synth.wm import THEME_DIRS, load_wm_theme

    names = {p.parent.parent.name for base in THEME_DIRS if base.is_dir() for p in base.glob("*/openbox-3/themerc")}
    # through load_wm_theme's cache: the themes found usable here are the ones drawn next
    return sorted(PREFIX + n for n in names if load_wm_theme(PREFIX + n) is not None)
