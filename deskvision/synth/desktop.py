"""Synthetic desktops composed from installed assets: icon themes (folders, documents by MIME
type, applications, trash), xfwm4 window decorations, system fonts and wallpapers.

Every box is exact by construction and follows ANNOTATION.md: icons box their visible glyph
(alpha ≥ 16), title-bar buttons box a square centred on their visible drawing (side ≥ 16 px ×
scale), windows box their whole decorated frame, covered elements are dropped.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from deskvision.classes import BUTTON_CLASS
from deskvision.synth import icons, wm
from deskvision.synth.layout import Canvas, resolve_occlusion

FOLDER_NAMES = [
    "Documents",
    "Downloads",
    "Music",
    "Pictures",
    "Videos",
    "Projects",
    "Desktop",
    "Templates",
    "Public",
    "Archive",
    "backup",
    "src",
    "Photos 2024",
    "Invoices",
    "Work",
    "Games",
    "Books",
    "Scans",
    "old stuff",
    "Reports",
    "Travel",
    "Recipes",
    "Thesis",
    "build",
    "data",
    "Screenshots",
    "Notes",
    "Clients",
]
FILE_STEMS = [
    "report",
    "notes",
    "budget",
    "photo",
    "song",
    "movie",
    "backup",
    "draft",
    "todo",
    "README",
    "invoice_0423",
    "presentation",
    "letter",
    "summary",
    "setup",
    "install",
    "data",
    "config",
    "holiday",
    "scan",
    "thesis-final",
    "meeting minutes",
    "very long file name for testing",
]
MENU_ITEMS = ["File", "Edit", "View", "Go", "Bookmarks", "Tools", "Help", "Search", "Document", "Terminal", "Tabs"]
BUTTON_TEXTS = ["OK", "Cancel", "Open", "Save", "Apply", "Close", "Yes", "No", "Browse…", "Delete", "Rename", "Next"]

LIGHT = {"bg": (246, 245, 244), "base": (255, 255, 255), "fg": (46, 52, 54), "border": (205, 199, 194), "button": (240, 239, 238)}
DARK = {"bg": (48, 48, 48), "base": (36, 36, 36), "fg": (238, 238, 236), "border": (27, 27, 27), "button": (62, 62, 62)}
TITLE_COLORS = [(220, 220, 220), (236, 236, 236), (60, 64, 72), (47, 52, 63), (70, 110, 170), (90, 90, 90)]


@functools.cache
def system_fonts() -> list[str]:
    """Sans-serif UI fonts installed (DejaVu, Liberation, Cantarell, Noto...)."""
    found = []
    for pattern in (
        "DejaVuSans.ttf",
        "DejaVuSansCondensed.ttf",
        "LiberationSans-Regular.ttf",
        "Cantarell-Regular.otf",
        "NotoSans-Regular.ttf",
        "Ubuntu-R.ttf",
        "FreeSans.ttf",
    ):
        found += [str(p) for p in Path("/usr/share/fonts").rglob(pattern)]
    return sorted(set(found))


@functools.cache
def monospace_font() -> str | None:
    """A monospace font for terminals (searched once, not per window)."""
    fonts = Path("/usr/share/fonts")
    for pattern in ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "*Mono.ttf"):
        found = sorted(fonts.rglob(pattern))
        if found:
            return str(found[0])
    return None


@functools.cache
def _font(path: str | None, size: int) -> ImageFont.ImageFont:
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


@functools.cache
def _wallpaper_files() -> list[str]:
    out = []
    for base in (Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds"), Path("/usr/share/images/desktop-base")):
        if base.is_dir():
            out += [str(p.resolve()) for p in base.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".svg")]
    return sorted(set(out))


@functools.lru_cache(maxsize=8)
def _wallpaper_image(path: str, size: tuple[int, int]) -> Image.Image:
    if path.endswith(".svg"):
        import io

        img = Image.open(io.BytesIO(icons.svg_to_png(path, size[0]))).convert("RGB")
    else:
        img = Image.open(path).convert("RGB")
    scale = max(size[0] / img.width, size[1] / img.height)
    img = img.resize((round(img.width * scale) + 1, round(img.height * scale) + 1), Image.BILINEAR)
    return img.crop((0, 0, *size))


@functools.lru_cache(maxsize=64)
def _picture_base(path: str, size: tuple[int, int]) -> Image.Image:
    # the uncached function: this cache keeps the picture, `_wallpaper_image`'s need not as well
    return _wallpaper_image.__wrapped__(path, (round(size[0] * 1.6), round(size[1] * 1.6)))


def _picture_view(path: str, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A wallpaper picture given with `synth --wallpapers`, zoomed in up to 1.6x at a random
    place and flipped half the time: a few dozen pictures give many different backgrounds."""
    base = _picture_base(path, size)  # the picture at 1.6x the screen: decoded once per worker
    zoom = rng.uniform(1.0, 1.6)
    cw, ch = round(base.width / zoom), round(base.height / zoom)
    x, y = rng.randint(0, base.width - cw), rng.randint(0, base.height - ch)
    view = base.crop((x, y, x + cw, y + ch)).resize(size, Image.BILINEAR)
    return view.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else view


def picture_files(folders: Sequence[str | Path]) -> list[str]:
    """The wallpaper pictures (PNG, JPEG, SVG) under `folders`, sorted; ValueError if none."""
    out = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise ValueError(f"wallpaper folder {str(folder)!r} does not exist")
        out += [str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".svg") and p.is_file()]
    if not out:
        raise ValueError(f"no wallpaper pictures (.png, .jpg, .svg) under {', '.join(map(str, folders))}")
    return sorted(out)


@dataclass(frozen=True)
class ForeignLaunchers:
    """A `share` of launchers show an application icon of one of `themes` (found in the system's
    folders or `icon_dirs`) instead of the screen's own theme: users' launchers often carry the
    application's own icon, whatever the theme."""

    themes: tuple[str, ...]
    share: float
    icon_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Look:
    """A desktop's appearance: recorded as VIA file attributes so that training can hold looks out."""

    icon_theme: str
    wm_theme: str
    dark: bool
    title_color: tuple[int, int, int]
    font: str | None
    scale: int = 1
    # Title-bar buttons, xfwm4-style: H (minimize), M (maximize), C (close); the letters before
    # a "|" go on the left, the others on the right (xfwm4's default "HMC": all on the right).
    button_layout: str = "HMC"
    # Window decorations drawn at this scale (0: the screen's). On a HiDPI screen most xfwm4 and
    # openbox themes stay at scale 1: tiny title-bar glyphs beside doubled GTK content.
    wm_scale: int = 0

    @property
    def name(self) -> str:
        return f"{self.icon_theme}+{self.wm_theme}+{'dark' if self.dark else 'light'}"

    def attributes(self) -> dict[str, str]:
        return {
            "look": self.name,
            "icon_theme": self.icon_theme,
            "wm_theme": self.wm_theme,
            "colors": "dark" if self.dark else "light",
            "font": Path(self.font).stem if self.font else "default",
            "scale": str(self.scale),
            "button_layout": self.button_layout,
            "generator": "synth",
        } | ({"decorations_scale": str(self.wm_scale)} if self.wm_scale not in (0, self.scale) else {})


#: Title-bar button layouts `deskvision synth` draws by default, a few times the common ones:
#: xfwm4's and Ubuntu's default, maximize first, without minimize or maximize, close alone (GNOME),
#: elementary's close left / maximize right, macOS-like buttons on the left.
BUTTON_LAYOUTS: tuple[str, ...] = ("HMC", "HMC", "HMC", "MHC", "MHC", "HC", "MC", "C", "C|M", "CHM|")


def check_button_layout(layout: str) -> str:
    """`layout` if it is valid (letters H, M, C, each at most once, one optional "|"), else ValueError."""
    letters = layout.replace("|", "", 1)
    if not letters or set(letters) - set(BUTTON_CLASS) or len(set(letters)) != len(letters) or "|" in letters:
        raise ValueError(f"bad button layout {layout!r}: use the letters H (minimize), M (maximize), C (close), e.g. HMC or C|M")
    return layout


def random_look(
    rng: random.Random,
    icon_themes: list[str],
    wm_themes: list[str],
    hidpi: float = 0.1,
    button_layouts: Sequence[str] = BUTTON_LAYOUTS,
    layout_seed: object = None,
    plain_decorations: float = 0.0,
) -> Look:
    """A random look; a `hidpi` share at scale 2, and of those a `plain_decorations` share with
    window decorations left at scale 1."""
    fonts = system_fonts()
    icon_theme, wm_theme, dark = rng.choice(icon_themes), rng.choice(wm_themes), rng.random() < 0.35
    # Some themes only render consistently with some title colours: take the first that works.
    colors = rng.sample(TITLE_COLORS, len(TITLE_COLORS))
    color = next((c for c in colors if wm.load_wm_theme(wm_theme, c) is not None), wm.DEFAULT_BASE)
    font, scale = rng.choice(fonts) if fonts else None, 2 if rng.random() < hidpi else 1
    # The layout comes from a random stream of its own: the rest of the screenshot is the same
    # whatever the layouts to choose from (datasets made with one layout stay reproducible).
    layouts = list(button_layouts)
    layout = layouts[0] if len(layouts) == 1 else random.Random(f"layout/{layout_seed}").choice(layouts)
    plain = scale > 1 and random.Random(f"decorations/{layout_seed}").random() < plain_decorations  # own stream too
    return Look(icon_theme, wm_theme, dark, color, font, scale, layout, 1 if plain else 0)


class _Painter:
    """Draws desktop parts on a `Canvas` with one look's assets."""

    def __init__(
        self,
        c: Canvas,
        look: Look,
        pictures: Sequence[str] = (),
        picture_share: float = 0.25,
        icon_dirs: tuple[str, ...] = (),
        foreign: ForeignLaunchers | None = None,
        foreign_rng: random.Random | None = None,
    ):
        self.c, self.look, self.rng = c, look, c.rng
        self.foreign, self.foreign_rng = foreign, foreign_rng or random.Random(0)
        self.pictures, self.picture_share = tuple(pictures), picture_share
        self.s = look.scale
        self.theme = icons.find_theme(look.icon_theme, icon_dirs)
        self.wm = wm.scaled_wm_theme(look.wm_theme, look.title_color, look.wm_scale or look.scale)
        self.pal = DARK if look.dark else LIGHT
        apps = list(self.theme.names("Applications")) if self.theme else []
        if len(apps) < 10:  # too few application icons of its own: add hicolor's
            hicolor = icons.find_theme("hicolor", icon_dirs)
            apps += hicolor.names("Applications") if hicolor else ()
        self.apps = apps or ["application-x-executable"]

    def font(self, size: int) -> ImageFont.ImageFont:
        return _font(self.look.font, size * self.s)

    # -- icons --------------------------------------------------------------------------------
    def icon(self, kind: str, size: int) -> tuple[Image.Image, tuple[int, int, int, int] | None, str] | None:
        """(rendered icon, its visible box, file name to show) for a folder/file/launcher/trash."""
        rng, theme = self.rng, self.theme
        if kind == "folder":
            names, label = icons.FOLDER, rng.choice(FOLDER_NAMES)
        elif kind == "trash":
            names, label = icons.TRASH, "Trash"
        elif kind == "file":
            mime = rng.choice(list(icons.FILE_TYPES))
            names, label = (mime, "text-x-generic"), f"{rng.choice(FILE_STEMS)}.{rng.choice(icons.FILE_TYPES[mime])}"
        else:
            app = rng.choice(self.apps)
            other = self.foreign_app()
            if other is not None:
                theme, app = other
            names, label = (app,), app.split(".")[-1].replace("-", " ").replace("_", " ").title()
        path = icons.lookup(theme, names, size)
        if path is None:
            return None
        try:
            return *icons.render_with_box(path, size), label
        except Exception:  # an unreadable icon file: skip this element
            return None

    def foreign_app(self) -> tuple[icons.IconTheme, str] | None:
        """(theme, application icon name) of another icon theme for a share of launchers, or None.
        Drawn from a random stream of its own, so the rest of the screen is the same either way."""
        f, r = self.foreign, self.foreign_rng
        if f is None or not f.themes or r.random() >= f.share:
            return None
        theme = icons.find_theme(r.choice(f.themes), f.icon_dirs)
        apps = theme.names("Applications") if theme else ()
        return (theme, r.choice(apps)) if apps else None

    def paste_icon(self, kind: str, x: int, y: int, size: int, text_color=None, shadow: bool = False, label: bool = True) -> int:
        """Draw an icon (and its label below); returns the height used (0 when nothing drawn)."""
        got = self.icon(kind, size)
        if got is None:
            return 0
        img, box, name = got
        if box is None:
            return 0
        self.c.img.paste(img, (x, y), img)
        used, shown = size, None
        if label:
            label_h, shown = self.label(name, x + size / 2, y + size + 3 * self.s, size + 36 * self.s, text_color, shadow)
            used += label_h
        if size >= 24 * self.s:
            self.c.add([x + box[0], y + box[1], x + box[2], y + box[3]], kind, shown)
        return used

    def label(self, text: str, cx: float, y: float, width: float, color, shadow: bool) -> tuple[int, str]:
        """Centred, wrapped to two lines, elided with an ellipsis as file managers do.
        Returns the height used and the text as shown (lines joined by a space)."""
        font = self.font(self.rng.choice([9, 10, 11]))
        d = self.c.draw
        lines, current = [], ""
        for word in text.split(" "):
            trial = (current + " " + word).strip()
            if d.textlength(trial, font=font) <= width or not current:
                current = trial
            else:
                lines.append(current)
                current = word
        lines.append(current)
        if len(lines) > 2:
            lines = [lines[0], " ".join(lines[1:])]
        for i, line in enumerate(lines[:2]):
            while d.textlength(line, font=font) > width and len(line) > 2:
                line = line[:-2] + "…"
            lines[i] = line
        line_h = font.size + 3
        for i, line in enumerate(lines):
            tx = cx - d.textlength(line, font=font) / 2
            if shadow:
                d.text((tx + 1, y + i * line_h + 1), line, fill=(0, 0, 0), font=font)
            d.text((tx, y + i * line_h), line, fill=color, font=font)
        return 3 * self.s + line_h * len(lines), " ".join(lines)

    # -- desktop ------------------------------------------------------------------------------
    def wallpaper(self) -> None:
        w, h = self.c.img.size
        rng = self.rng
        files = self.pictures or _wallpaper_files()
        if files and rng.random() < self.picture_share:
            try:
                if self.pictures:
                    self.c.img.paste(_picture_view(rng.choice(files), (w, h), rng))
                else:
                    self.c.img.paste(_wallpaper_image(rng.choice(files), (w, h)))
                return
            except Exception:  # unreadable wallpaper: fall back to a gradient
                pass
        a = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
        b = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
        if self.look.dark:
            a, b = a * 0.4, b * 0.4
        if rng.random() < 0.2:  # a plain single colour: large smooth areas are not windows
            self.c.img.paste(tuple(int(v) for v in a), (0, 0, w, h))
            return
        # Computed at 1/8 resolution and enlarged: smooth anyway, and 60x cheaper.
        sw, sh = max(2, w // 8), max(2, h // 8)
        ty = np.linspace(0, 1, sh, dtype=np.float32)[:, None] * rng.uniform(0.3, 1)
        t = ty + np.linspace(0, 1, sw, dtype=np.float32)[None, :] * rng.uniform(0, 0.7)
        t = t / t.max()
        img = a * (1 - t[..., None]) + b * t[..., None]
        if rng.random() < 0.4:  # soft blobs, like abstract wallpapers
            blobs = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 18, (6, 10, 3)).astype(np.float32)
            blobs_img = Image.fromarray(np.clip(blobs + 128, 0, 255).astype(np.uint8)).resize((sw, sh), Image.BICUBIC)
            img += np.asarray(blobs_img, np.float32) - 128
        small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        self.c.img.paste(small.resize((w, h), Image.BILINEAR))

    def panel(self) -> tuple[int, int]:
        """A top or bottom panel with launchers; returns the (top, bottom) space it takes."""
        w, h = self.c.img.size
        rng, s = self.rng, self.s
        ph = rng.choice([28, 32, 40]) * s
        top = rng.random() < 0.5
        y0 = 0 if top else h - ph
        color = (30, 30, 30) if rng.random() < 0.6 else self.pal["bg"]
        self.c.draw.rectangle([0, y0, w, y0 + ph - 1], fill=color)
        size = max(24 * s, ph - 8 * s)
        x = 8 * s
        for _ in range(rng.randint(3, 8)):
            self.paste_icon("launcher", x, y0 + (ph - size) // 2, size, label=False)
            x += size + 8 * s
        fg = (230, 230, 230) if sum(color) < 300 else (30, 30, 30)
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        font = self.font(11)
        self.c.draw.text(
            (w - 12 * s - self.c.draw.textlength(clock, font=font), y0 + ph / 2 - font.size / 2), clock, fill=fg, font=font
        )
        return (ph, 0) if top else (0, ph)

    def desktop_icons(self, top: int, bottom: int, max_cols: int) -> int:
        """A column-major grid of desktop icons; returns the x where it ends."""
        w, h = self.c.img.size
        rng, s = self.rng, self.s
        size = rng.choice([32, 48, 48, 64]) * s
        cell_w, cell_h = size + 44 * s, size + 44 * s
        rows = max(1, (h - top - bottom - 8 * s) // cell_h)
        cols = rng.randint(1, max_cols)
        kinds = ["folder"] * 4 + ["file"] * 4 + ["launcher"] * 3
        n = rng.randint(min(2, rows * cols), rows * cols)  # a small HiDPI screen may hold one icon
        slots = [(c, r) for c in range(cols) for r in range(rows)][:n]
        trash_at = rng.choice([0, n - 1])
        for i, (col, row) in enumerate(slots):
            kind = "trash" if i == trash_at else rng.choice(kinds)
            self.paste_icon(
                kind, 8 * s + col * cell_w + (cell_w - size) // 2, top + 8 * s + row * cell_h, size, (255, 255, 255), True
            )
        return 8 * s + cols * cell_w

    # -- windows ------------------------------------------------------------------------------
    def frame(self, x0: int, y0: int, cw: int, ch: int, title: str) -> tuple[tuple[int, int, int, int], str]:
        """Window decoration around a client area of cw×ch at (x0, y0) of the frame; returns the
        client rectangle and the title as shown. Buttons follow the look's `button_layout`."""
        t = self.wm
        p = t.pieces
        left, right, bottom = p["left"].width, p["right"].width, p["bottom"].height
        th = t.title_height
        fw, fh = left + cw + right, th + ch + bottom
        img = self.c.img
        img.paste(p["top-left"], (x0, y0), p["top-left"])
        img.paste(p["top-right"], (x0 + fw - p["top-right"].width, y0), p["top-right"])
        mid_x0, mid_x1 = x0 + p["top-left"].width, x0 + fw - p["top-right"].width
        tile = p["title-3"].resize((max(1, mid_x1 - mid_x0), th))
        img.paste(tile, (mid_x0, y0), tile)
        for piece, x, yy in (("left", x0, y0 + th), ("right", x0 + fw - right, y0 + th)):
            strip = p[piece].resize((p[piece].width, max(1, ch)))
            img.paste(strip, (x, yy), strip)
        bl, br = p["bottom-left"], p["bottom-right"]
        img.paste(bl, (x0, y0 + fh - bl.height), bl)
        img.paste(br, (x0 + fw - br.width, y0 + fh - br.height), br)
        bottom_strip = p["bottom"].resize((max(1, fw - bl.width - br.width), p["bottom"].height))
        img.paste(bottom_strip, (x0 + bl.width, y0 + fh - bottom), bottom_strip)
        offset = int(t.rc.get("button_offset", "2") or 2)
        spacing = int(t.rc.get("button_spacing", "2") or 2)
        left_part, _, right_part = self.look.button_layout.rpartition("|")
        bx = x0 + fw - p["top-right"].width - offset  # right-hand buttons, right to left
        for letter in reversed(right_part):
            bx -= t.buttons[BUTTON_CLASS[letter]].width
            self._title_button(BUTTON_CLASS[letter], bx, y0)
            bx -= spacing
        lx = x0 + p["top-left"].width + (offset if left_part else 0)  # left-hand ones, left to right
        for letter in left_part:
            self._title_button(BUTTON_CLASS[letter], lx, y0)
            lx += t.buttons[BUTTON_CLASS[letter]].width + spacing
        font = _font(self.look.font, 10 * (self.look.wm_scale or self.s))  # the title is the window manager's
        tw = self.c.draw.textlength(title, font=font)
        room = bx - lx - 8
        if tw > room:
            title = title[: max(1, int(len(title) * room / max(tw, 1)) - 1)] + "…"
            tw = self.c.draw.textlength(title, font=font)
        tx = lx + max(4, (room - tw) / 2)
        self.c.draw.text((tx, y0 + th / 2 - font.size / 2 - 1), title, fill=t.text_color(), font=font)
        return (x0 + left, y0 + th, x0 + left + cw, y0 + th + ch), title

    def _title_button(self, cls: str, bx: int, y0: int) -> None:
        b = self.wm.buttons[cls]
        self.c.img.paste(b, (bx, y0), b)
        gx0, gy0, gx1, gy1 = self.wm.glyph_boxes[cls]
        cx, cy = bx + (gx0 + gx1) / 2, y0 + (gy0 + gy1) / 2
        side = max(gx1 - gx0, gy1 - gy0, 16 * self.s)
        self.c.add([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], cls)

    def push_button(self, x: float, y: float, text: str | None, icon: str | None = None) -> float:
        s, pal, d = self.s, self.pal, self.c.draw
        font = self.font(10)
        h = 30 * s
        w = (d.textlength(text, font=font) + 24 * s) if text else h
        d.rounded_rectangle([x, y, x + w - 1, y + h - 1], radius=5 * s, fill=pal["button"], outline=pal["border"])
        if text:
            d.text((x + 12 * s, y + h / 2 - font.size / 2 - 1), text, fill=pal["fg"], font=font)
        elif icon:
            path = icons.lookup(self.theme, (icon, icon + "-symbolic"), 16 * s)
            if path is not None:
                try:
                    glyph = icons.render(path, 16 * s)
                    self.c.img.paste(glyph, (int(x + (w - 16 * s) / 2), int(y + 7 * s)), glyph)
                except Exception:
                    pass
        self.c.add([x, y, x + w, y + h], "button", text)
        return w

    def entry(self, x: float, y: float, w: float, text: str) -> None:
        s, pal, d = self.s, self.pal, self.c.draw
        h = 30 * s
        d.rounded_rectangle([x, y, x + w - 1, y + h - 1], radius=4 * s, fill=pal["base"], outline=pal["border"])
        font = self.font(10)
        d.text((x + 8 * s, y + h / 2 - font.size / 2 - 1), text, fill=pal["fg"], font=font)
        self.c.add([x, y, x + w, y + h], "text_field", text)

    def menubar(self, x0: float, y: float, x1: float) -> float:
        s, d, font = self.s, self.c.draw, self.font(10)
        h = 24 * s
        x = x0 + 2 * s
        for name in self.rng.sample(MENU_ITEMS, self.rng.randint(3, 6)):
            w = d.textlength(name, font=font) + 16 * s
            if x + w > x1:
                break
            d.text((x + 8 * s, y + h / 2 - font.size / 2 - 1), name, fill=self.pal["fg"], font=font)
            self.c.add([x, y, x + w, y + h], "menu", name)
            x += w
        return h

    def window(self, box: tuple[int, int, int, int]) -> None:
        c, rng, s = self.c, self.rng, self.s
        c.layer += 1
        x0, y0, x1, y1 = box
        t = self.wm
        cw = x1 - x0 - t.pieces["left"].width - t.pieces["right"].width
        ch = y1 - y0 - t.title_height - t.pieces["bottom"].height
        kind = rng.choice(["files", "files", "dialog", "editor", "terminal"])
        place = rng.choice(FOLDER_NAMES)
        title = {
            "files": f"{place} - File Manager",
            "dialog": rng.choice(["Open File", "Save As", "Rename", "Preferences"]),
            "editor": f"{rng.choice(FILE_STEMS)}.txt - Mousepad",
            "terminal": f"user@debian: ~/{place}",
        }[kind]
        (cx0, cy0, cx1, cy1), shown_title = self.frame(x0, y0, cw, ch, title)
        c.draw.rectangle([cx0, cy0, cx1 - 1, cy1 - 1], fill=self.pal["bg"])
        y = cy0
        first_menu = len(c.items)
        if kind != "dialog" and rng.random() < 0.7:
            y += self.menubar(cx0, y, cx1)
        menus = [item[0] for item in c.items[first_menu:] if item[1] == "menu"]
        if kind == "files":
            bx = cx0 + 6 * s
            for icon in rng.sample(["go-previous", "go-next", "go-up", "go-home", "view-refresh"], rng.randint(2, 4)):
                bx += self.push_button(bx, y + 4 * s, None, icon) + 4 * s
            free = cx1 - 10 * s - bx - 6 * s
            if free > 360 * s and rng.random() < 0.4:  # a search field of its own on the right
                search = rng.randint(140, 240) * s
                self.entry(cx1 - 10 * s - search, y + 4 * s, search, rng.choice(["", "Search", "*.txt"]))
                free -= search + 8 * s
            if free > 94 * s:
                self.entry(bx + 6 * s, y + 4 * s, free, f"/home/user/{place}")
            y += 38 * s
            side = 0
            if cx1 - cx0 > 420 * s and rng.random() < 0.7:  # sidebar: 16-px icons, not labelled
                side = 150 * s
                c.draw.rectangle([cx0, y, cx0 + side, cy1 - 1], fill=tuple(int(v * 0.96) for v in self.pal["bg"]))
                for i, name in enumerate(["Home", "Desktop", "Documents", "Downloads", "Trash"]):
                    yy = y + 8 * s + i * 26 * s
                    if yy + 20 * s > cy1:
                        break
                    self.paste_icon("folder" if name != "Trash" else "trash", cx0 + 8 * s, yy, 16 * s, label=False)
                    c.draw.text((cx0 + 30 * s, yy), name, fill=self.pal["fg"], font=self.font(10))
            c.draw.rectangle([cx0 + side, y, cx1 - 1, cy1 - 1], fill=self.pal["base"])
            size = rng.choice([48, 48, 64]) * s
            cell = size + 56 * s
            cols = max(0, (cx1 - cx0 - side - 8 * s) // cell)
            rows = max(0, (cy1 - y - 8 * s) // (size + 44 * s))
            n = rng.randint(1, max(1, cols * rows))
            for i in range(min(n, cols * rows)):
                r, col = divmod(i, cols)
                kind_i = "folder" if rng.random() < 0.5 else "file"
                self.paste_icon(
                    kind_i,
                    cx0 + side + 8 * s + col * cell + (cell - size) // 2,
                    y + 8 * s + r * (size + 44 * s),
                    size,
                    self.pal["fg"],
                    False,
                )
        elif kind == "dialog":
            font = self.font(10)
            fy = y + 14 * s
            for label in rng.sample(["Name:", "Folder:", "Search:", "Location:"], rng.randint(1, 3)):
                if fy + 70 * s > cy1:
                    break
                c.draw.text((cx0 + 12 * s, fy + 8 * s), label, fill=self.pal["fg"], font=font)
                # entries as wide as the dialog or shorter (real dialogs have both)
                width = (cx1 - cx0 - 104 * s) * (1 if rng.random() < 0.5 else rng.uniform(0.35, 0.9))
                self.entry(cx0 + 90 * s, fy, max(60 * s, width), rng.choice(FILE_STEMS) if rng.random() < 0.6 else "")
                fy += 40 * s
            bx = cx1 - 12 * s
            for text in rng.sample(BUTTON_TEXTS, 2):
                w = c.draw.textlength(text, font=font) + 24 * s
                if bx - w < cx0 + 10 * s or cy1 - 42 * s < fy:
                    break
                self.push_button(bx - w, cy1 - 42 * s, text)
                bx -= w + 8 * s
        elif kind == "terminal":
            self.terminal(cx0, y, cx1, cy1)
        else:
            c.draw.rectangle([cx0, y, cx1 - 1, cy1 - 1], fill=self.pal["base"])
            font = self.font(10)
            for i in range(max(0, (cy1 - y - 10 * s) // (16 * s))):
                words = " ".join(rng.choice(FILE_STEMS + FOLDER_NAMES) for _ in range(rng.randint(1, 8)))
                c.draw.text((cx0 + 8 * s, y + 6 * s + i * 16 * s), words, fill=self.pal["fg"], font=font)
        c.windows.append([x0, y0, x1, y1])
        c.add([x0, y0, x1, y1], "window", shown_title)
        if menus and rng.random() < 0.15:
            self.open_menu(rng.choice(menus), cy1)

    def terminal(self, x0: float, y0: float, x1: float, y1: float) -> None:
        s, rng, d = self.s, self.rng, self.c.draw
        bg, fg = rng.choice(
            [
                ((30, 30, 30), (220, 220, 220)),
                ((0, 43, 54), (147, 161, 161)),
                ((255, 255, 255), (40, 40, 40)),
                ((48, 10, 36), (240, 240, 240)),
            ]
        )
        d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=bg)
        font = _font(monospace_font(), 11 * s)
        lines = []
        while len(lines) < (y1 - y0) // (15 * s) - 1:
            cmd = rng.choice(["ls", "ls -l", "cd " + rng.choice(FOLDER_NAMES), "cat notes.txt", "make", "git status", "df -h"])
            lines.append(f"user@debian:~$ {cmd}")
            lines += [" ".join(rng.sample(FOLDER_NAMES + FILE_STEMS, 4)) for _ in range(rng.randint(0, 4))]
        for i, line in enumerate(lines):
            d.text((x0 + 6 * s, y0 + 4 * s + i * 15 * s), line, fill=fg, font=font)

    def open_menu(self, item: list[float], bottom: float) -> None:
        """A drop-down under a menu-bar item: it covers what lies below it (not a labelled class)."""
        c, s, rng = self.c, self.s, self.rng
        x0, y0 = item[0], item[3]
        entries = rng.sample(
            [
                "New",
                "Open…",
                "Save",
                "Save As…",
                "Print…",
                "Close",
                "Quit",
                "Undo",
                "Copy",
                "Paste",
                "Preferences",
                "Select All",
                "Find…",
                "Zoom In",
            ],
            rng.randint(3, 8),
        )
        font = self.font(10)
        w = max(c.draw.textlength(e, font=font) for e in entries) + 60 * s
        h = len(entries) * 26 * s + 8 * s
        c.layer += 1
        c.draw.rectangle([x0, y0, x0 + w, y0 + h], fill=self.pal["base"], outline=self.pal["border"])
        for i, e in enumerate(entries):
            c.draw.text((x0 + 24 * s, y0 + 6 * s + i * 26 * s + 5 * s), e, fill=self.pal["fg"], font=font)
        c.windows.append([x0, y0, x0 + w + 1, y0 + h + 1])

    def dock(self, bottom_free: bool) -> None:
        """A dock of launchers, drawn over the windows, centred at the bottom or on the left."""
        c, s, rng = self.c, self.s, self.rng
        w, h = c.img.size
        size = rng.choice([40, 48, 56]) * s
        n = rng.randint(4, 10)
        pad = 8 * s
        length = n * (size + pad) + pad
        horizontal = bottom_free and rng.random() < 0.7
        if horizontal:
            box = [(w - length) // 2, h - size - 3 * pad, (w + length) // 2, h - pad]
        else:
            box = [pad, (h - length) // 2, size + 3 * pad, (h + length) // 2]
        c.layer += 1
        layer = Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (0, 0, 0, 0))
        tint = (40, 40, 40, 190) if rng.random() < 0.7 else (240, 240, 240, 200)
        ImageDraw.Draw(layer).rounded_rectangle([0, 0, layer.width - 1, layer.height - 1], radius=12 * s, fill=tint)
        c.img.paste(layer, (box[0], box[1]), layer)
        for i in range(n):
            offset = pad + i * (size + pad)
            x, y = (box[0] + offset, box[1] + pad) if horizontal else (box[0] + pad, box[1] + offset)
            self.paste_icon("launcher", x, y, size, label=False)
        c.windows.append(box)


def synth_screenshot(
    seed: int,
    size: tuple[int, int],
    icon_themes: list[str],
    wm_themes: list[str],
    look: Look | None = None,
    button_layouts: Sequence[str] = BUTTON_LAYOUTS,
    pictures: Sequence[str] = (),
    picture_share: float = 0.25,
    hidpi: float = 0.1,
    plain_decorations: float = 0.0,
    icon_dirs: tuple[str, ...] = (),
    foreign_launchers: ForeignLaunchers | None = None,
) -> tuple[Image.Image, np.ndarray, list[str], dict[str, str], list[str | None]]:
    """One synthetic desktop: (image, boxes xyxy, labels, look attributes, the text each element
    shows: an icon's label as displayed, a button's caption, a menu's name, a window's title).

    A `picture_share` of the screens get a picture wallpaper: one of `pictures` if given (see
    `picture_files`), else one of the system's wallpapers. `hidpi`, `plain_decorations`: see
    `random_look`. `icon_dirs`: folders of icon themes searched before the system's.
    `foreign_launchers`: see `ForeignLaunchers` (its choices come from a random stream of their
    own: with or without it, everything but those launchers' icons and labels is the same)."""
    rng = random.Random(seed)
    look = look or random_look(
        rng, icon_themes, wm_themes, hidpi, button_layouts=button_layouts, layout_seed=seed, plain_decorations=plain_decorations
    )
    w, h = size
    c = Canvas(size, rng)
    p = _Painter(c, look, pictures, picture_share, tuple(icon_dirs), foreign_launchers, random.Random(f"launchers/{seed}"))
    p.wallpaper()
    top, bottom = p.panel() if rng.random() < 0.6 else (0, 0)
    end_x = p.desktop_icons(top, bottom, max_cols=max(1, min(4, w // (250 * look.scale)))) if rng.random() < 0.9 else 0
    s = look.scale
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        ww = rng.randint(min(360 * s, w - 40), max(360 * s + 1, min(w - 40, int(w * 0.7))))
        wh = rng.randint(min(240 * s, h - top - bottom - 20), max(240 * s + 1, min(h - top - bottom - 20, int(h * 0.75))))
        x0 = rng.randint(min(end_x // 2, w - ww - 1), max(min(end_x // 2, w - ww - 1), w - ww - 1))
        y0 = rng.randint(top, max(top, h - bottom - wh - 1))
        p.window((x0, y0, x0 + ww, y0 + wh))
    if rng.random() < 0.25:
        p.dock(bottom_free=bottom == 0)
    attributes = look.attributes()
    if rng.random() < 0.15:  # a softer, compressed-looking screenshot
        c.img = c.img.filter(ImageFilter.BoxBlur(0.5))
        attributes["blur"] = "box 0.5"
    boxes, labels, texts = resolve_occlusion(c, size)
    return c.img, boxes, labels, attributes, texts
