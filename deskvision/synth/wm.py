"""Window decorations from installed xfwm4 themes (and openbox themes, `openbox.py`): title-bar
pieces, borders and the close/maximize/minimize ("hide") button images, with the box of each
button's visible drawing."""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

THEME_DIRS = (Path.home() / ".themes", Path.home() / ".local/share/themes", Path("/usr/share/themes"))
DEFAULT_BASE = (220, 220, 220)
BUTTONS = {"close": "close", "maximize": "maximize", "minimize": "hide"}
PIECES = (
    "title-1",
    "title-2",
    "title-3",
    "title-4",
    "title-5",
    "top-left",
    "top-right",
    "left",
    "right",
    "bottom",
    "bottom-left",
    "bottom-right",
)


_SYMBOLIC = re.compile(rb"c\s+(#[0-9A-Fa-f]{3,12}|\w+)\s+s\s+(\w+)")


def _shade(rgb: tuple[int, int, int], k: float) -> str:
    """`rgb` lightened (k > 0) or darkened (k < 0), as #rrggbb."""
    out = [round(v + (255 - v) * k) if k > 0 else round(v * (1 + k)) for v in rgb]
    return "#" + "".join(f"{min(255, max(0, v)):02x}" for v in out)


def symbolic_colors(base: tuple[int, int, int]) -> dict[str, str]:
    """Colours for xfwm4's symbolic XPM names, derived from one title-bar colour as xfwm4
    derives them from the GTK theme (otherwise PIL shows the files' mismatched fallbacks)."""
    light = sum(base) / 3 > 128
    text = "#202020" if light else "#f0f0f0"
    return {
        "color_1": _shade(base, 0),
        "color_2": _shade(base, 0.08),
        "hilight_1": _shade(base, 0.35),
        "hilight_2": _shade(base, 0.25),
        "mid_1": _shade(base, -0.12),
        "mid_2": _shade(base, -0.08),
        "shadow_1": _shade(base, -0.35),
        "shadow_2": _shade(base, -0.25),
        "text_color": text,
        "border_color": _shade(base, -0.45),
    }


def _xpm_with_colors(data: bytes, colors: dict[str, str]) -> bytes:
    def sub(m: re.Match) -> bytes:
        name = m.group(2).decode()
        for key, value in colors.items():
            if name.endswith(key):
                return b"c " + value.encode() + b" s " + m.group(2)
        return m.group(0)

    return _SYMBOLIC.sub(sub, data)


def _load(folder: Path, name: str, colors: dict[str, str]) -> Image.Image | None:
    """xfwm4 draws `name`.png over `name`.xpm when both exist; PIL reads both."""
    img = None
    for ext in (".xpm", ".png"):
        p = folder / (name + ext)
        if p.is_file():
            try:
                data = p.read_bytes()
                if ext == ".xpm":
                    data = _xpm_with_colors(data, colors)
                layer = Image.open(io.BytesIO(data)).convert("RGBA")
            except OSError:
                continue
            img = layer if img is None or img.size != layer.size else Image.alpha_composite(img, layer)
    return img


@dataclass
class WMTheme:
    name: str
    pieces: dict[str, Image.Image]
    buttons: dict[str, Image.Image]
    glyph_boxes: dict[str, tuple[int, int, int, int]]  # per button: visible drawing, in the button image
    rc: dict[str, str] = field(default_factory=dict)

    @property
    def title_height(self) -> int:
        return self.pieces["title-3"].height

    def text_color(self) -> tuple[int, int, int]:
        value = self.rc.get("active_text_color", "#303030")
        try:
            return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            return (48, 48, 48)


def _glyph_box(button: Image.Image, title: Image.Image) -> tuple[int, int, int, int] | None:
    """Where the button image differs from the title bar behind it (its glyph and own shape)."""
    h = min(button.height, title.height)
    col = np.asarray(title.convert("RGBA"))[:h, :1, :].astype(np.int16)  # one column of title background
    bg = Image.fromarray(np.repeat(col, button.width, axis=1).astype(np.uint8), "RGBA")
    over = Image.alpha_composite(bg, button.crop((0, 0, button.width, h)))
    diff = np.abs(np.asarray(over).astype(np.int16) - np.asarray(bg).astype(np.int16))[:, :, :3].max(axis=2) > 24
    ys, xs = np.nonzero(diff)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@functools.cache
def load_wm_theme(name: str, base_color: tuple[int, int, int] = DEFAULT_BASE) -> WMTheme | None:
    """The theme `name`, its symbolic colours derived from `base_color`; None if incomplete.
    ``openbox:NAME`` is an openbox theme (`deskvision.synth.openbox`), whose colours are its own."""
    from deskvision.synth.openbox import PREFIX, load_openbox_theme

    if name.startswith(PREFIX):
        return load_openbox_theme(name.removeprefix(PREFIX))
    colors = symbolic_colors(base_color)
    for base in THEME_DIRS:
        folder = base / name / "xfwm4"
        if not folder.is_dir():
            continue
        pieces = {p: _load(folder, f"{p}-active", colors) for p in PIECES}
        buttons = {cls: _load(folder, f"{stem}-active", colors) for cls, stem in BUTTONS.items()}
        if any(v is None for v in (*pieces.values(), *buttons.values())):
            return None
        rc = {}
        if (folder / "themerc").is_file():
            for line in (folder / "themerc").read_text(errors="replace").splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    k, v = line.split("=", 1)
                    rc[k.strip()] = v.strip()
        boxes = {cls: _glyph_box(img, pieces["title-3"]) for cls, img in buttons.items()}
        if any(b is None for b in boxes.values()) or min(p.width for p in pieces.values()) < 1:
            return None
        # A "glyph" covering the whole button means the button's background does not match
        # the title bar (XPM colours PIL cannot resolve as xfwm4 would): skip such themes.
        for cls, (x0, y0, x1, y1) in boxes.items():  # type: ignore[misc]
            w, h = buttons[cls].size  # type: ignore[union-attr]
            if (x1 - x0) * (y1 - y0) >= 0.9 * w * h:
                return None
        if "active_text_color" not in rc:
            rc["active_text_color"] = colors["text_color"]
        return WMTheme(name, pieces, buttons, boxes, rc)  # type: ignore[arg-type]
    return None


@functools.cache
def scaled_wm_theme(name: str, base_color: tuple[int, int, int], scale: int) -> WMTheme | None:
    """The theme drawn `scale` times larger (pixel-doubled), as on a HiDPI screen."""
    theme = load_wm_theme(name, base_color)
    if theme is None or scale == 1:
        return theme

    def up(img: Image.Image) -> Image.Image:
        return img.resize((img.width * scale, img.height * scale), Image.NEAREST)

    rc = dict(theme.rc)
    for key in ("button_offset", "button_spacing"):
        if rc.get(key, "").isdigit():
            rc[key] = str(int(rc[key]) * scale)
    boxes = {cls: tuple(v * scale for v in box) for cls, box in theme.glyph_boxes.items()}
    return WMTheme(name, {k: up(v) for k, v in theme.pieces.items()}, {k: up(v) for k, v in theme.buttons.items()}, boxes, rc)  # type: ignore[arg-type]


def installed_wm_themes() -> list[str]:
    """Usable xfwm4 themes by name, then openbox themes as ``openbox:NAME``."""
    from deskvision.synth.openbox import installed_openbox_themes

    names = set()
    for base in THEME_DIRS:
        if base.is_dir():
            names.update(p.parent.name for p in base.glob("*/xfwm4"))
    return sorted(n for n in names if load_wm_theme(n) is not None) + installed_openbox_themes()
