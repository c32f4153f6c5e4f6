"""Icons from installed freedesktop icon themes (index.theme, contexts, sizes, inheritance),
rendered to RGBA once and cached. SVGs are rendered with resvg.

Spec: https://specifications.freedesktop.org/icon-theme-spec/latest/
"""

from __future__ import annotations

import configparser
import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ICON_DIRS = (Path.home() / ".local/share/icons", Path("/usr/local/share/icons"), Path("/usr/share/icons"))
EXTENSIONS = (".png", ".svg", ".xpm")

FOLDER = ("folder", "inode-directory", "gtk-directory")
TRASH = ("user-trash-full", "user-trash", "trashcan_full", "trashcan_empty")
#: Document types by MIME icon name, with the extensions we give the files.
FILE_TYPES = {
    "text-x-generic": ("txt", "log", "md"),
    "application-pdf": ("pdf",),
    "image-x-generic": ("png", "jpg"),
    "audio-x-generic": ("mp3", "ogg"),
    "video-x-generic": ("mp4", "mkv"),
    "package-x-generic": ("tar.gz", "zip"),
    "text-x-script": ("sh", "py"),
    "x-office-document": ("odt", "docx"),
    "x-office-spreadsheet": ("ods", "xlsx"),
    "x-office-presentation": ("odp", "pptx"),
    "text-html": ("html",),
    "application-x-executable": ("bin",),
    "text-x-python": ("py",),
    "application-json": ("json",),
    "text-x-csrc": ("c",),
    "application-x-iso9660-image": ("iso",),
}
ACTIONS = (
    "go-previous",
    "go-next",
    "go-up",
    "go-home",
    "view-refresh",
    "edit-find",
    "document-open",
    "document-save",
    "list-add",
    "edit-copy",
    "edit-paste",
    "view-list",
    "view-grid",
    "open-menu",
)


@dataclass(frozen=True)
class _Dir:
    path: str
    size: int
    scale: int
    context: str
    kind: str
    min_size: int
    max_size: int
    threshold: int

    def matches(self, size: int) -> bool:
        if self.kind == "Fixed":
            return self.size == size
        if self.kind == "Scalable":
            return self.min_size <= size <= self.max_size
        return self.size - self.threshold <= size <= self.size + self.threshold

    def distance(self, size: int) -> int:
        if self.kind == "Scalable":
            return max(0, self.min_size - size, size - self.max_size)
        return abs(self.size - size)


class IconTheme:
    """One installed icon theme, with lookups that follow its `Inherits` chain and hicolor.

    `extra`: folders of icon themes searched before the system's (`find_theme`), also for the
    themes this one inherits from."""

    def __init__(self, root: Path, extra: tuple[str, ...] = ()):
        self.root = root
        self.extra = extra
        self.name = root.name
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        cp.read(root / "index.theme", encoding="utf-8")
        head = cp["Icon Theme"] if cp.has_section("Icon Theme") else {}
        self.display_name = head.get("Name", self.name)
        self.inherits = [t.strip() for t in head.get("Inherits", "").split(",") if t.strip()]
        self.dirs: list[_Dir] = []
        for d in (head.get("Directories", "") + "," + head.get("ScaledDirectories", "")).split(","):
            d = d.strip()
            if not d or not cp.has_section(d) or not (root / d).is_dir():
                continue
            s = cp[d]
            try:
                size = int(s.get("Size", "0"))
                self.dirs.append(
                    _Dir(
                        d,
                        size,
                        int(s.get("Scale", "1")),
                        s.get("Context", ""),
                        s.get("Type", "Threshold"),
                        int(s.get("MinSize", size)),
                        int(s.get("MaxSize", size)),
                        int(s.get("Threshold", "2")),
                    )
                )
            except ValueError:
                continue
        self._files: dict[str, set[str]] = {}

    def _names_in(self, d: _Dir) -> set[str]:
        if d.path not in self._files:
            self._files[d.path] = {p.name for p in (self.root / d.path).iterdir()}
        return self._files[d.path]

    def lookup_here(self, name: str, size: int, context: str | None = None) -> Path | None:
        best, best_dist = None, None
        for d in self.dirs:
            if d.scale != 1 or (context and d.context != context):
                continue
            files = self._names_in(d)
            for ext in EXTENSIONS:
                if name + ext in files:
                    if d.matches(size):
                        return self.root / d.path / (name + ext)
                    dist = d.distance(size)
                    if best_dist is None or dist < best_dist:
                        best, best_dist = self.root / d.path / (name + ext), dist
        return best

    @functools.cache  # noqa: B019 - themes are cached for the process's life anyway
    def names(self, context: str, min_size: int = 32) -> tuple[str, ...]:
        """Icon names of a context (e.g. Applications) available at `min_size` px or more."""
        out: set[str] = set()
        for d in self.dirs:
            if d.context == context and d.scale == 1 and (d.kind == "Scalable" or d.size >= min_size):
                out.update(Path(f).stem for f in self._names_in(d) if f.endswith(EXTENSIONS) and "symbolic" not in f)
        return tuple(sorted(out))  # immutable: the result is cached and shared


def search_dirs(extra: tuple[str, ...] = ()) -> tuple[Path, ...]:
    """Where icon themes are looked for: the `extra` folders first, then the system's."""
    return (*(Path(d) for d in extra), *ICON_DIRS)


@functools.cache
def find_theme(name: str, extra: tuple[str, ...] = ()) -> IconTheme | None:
    """The icon theme `name`, from the `extra` folders of themes or the system's."""
    for base in search_dirs(extra):
        if (base / name / "index.theme").is_file():
            return IconTheme(base / name, extra)
    return None


def lookup(theme: IconTheme, names: tuple[str, ...], size: int, context: str | None = None) -> Path | None:
    """First of `names` found in `theme`, its parents, then hicolor (the spec's search order)."""
    seen, queue = set(), [theme.name]
    while queue:
        t = find_theme(queue.pop(0), theme.extra)
        if t is None or t.name in seen:
            continue
        seen.add(t.name)
        for name in names:
            hit = t.lookup_here(name, size, context)
            if hit is not None:
                return hit
        queue.extend(t.inherits)
        if not queue and "hicolor" not in seen:
            queue.append("hicolor")
    return None


def installed_icon_themes(extra: tuple[str, ...] = ()) -> list[str]:
    """Themes that can draw a folder, a trash and a text file at 48 px with their own icons
    (the system's, and those in the `extra` folders)."""
    names = []
    for base in search_dirs(extra):
        if not base.is_dir():
            continue
        for root in sorted(base.iterdir()):
            if not (root / "index.theme").is_file() or root.name in ("hicolor", "default", "locolor") or root.name in names:
                continue
            theme = find_theme(root.name, extra)
            has = theme is not None and all(theme.lookup_here(n, 48) for n in ("folder", "text-x-generic"))
            if has and any(theme.lookup_here(n, 48) for n in TRASH):
                names.append(root.name)
    return names


def svg_to_png(path: str | Path, width: int, height: int | None = None) -> bytes:
    """An SVG file drawn by resvg as PNG bytes; ValueError when resvg cannot draw it."""
    import resvg_py

    try:
        return bytes(resvg_py.svg_to_bytes(svg_path=str(path), width=width, height=height, skip_system_fonts=True))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a panic inside resvg reaches Python as pyo3's PanicException, a BaseException
        raise ValueError(f"cannot render {path}: {e}") from None


@functools.lru_cache(maxsize=4096)
def render(path: Path, size: int) -> Image.Image:
    """The icon file drawn as a `size`×`size` RGBA image."""
    if path.suffix == ".svg":
        img = Image.open(io.BytesIO(svg_to_png(path, size, size))).convert("RGBA")
    else:
        img = Image.open(path).convert("RGBA")
    if img.size != (size, size):
        img = img.resize((size, size), Image.LANCZOS)
    return img


def visible_bbox(img: Image.Image, alpha_min: int = 16) -> tuple[int, int, int, int] | None:
    """Tight box (x0, y0, x1, y1) of the pixels with alpha ≥ `alpha_min`, or None if none."""
    a = np.asarray(img.getchannel("A")) >= alpha_min
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    if len(cols) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@functools.lru_cache(maxsize=4096)
def render_with_box(path: Path, size: int) -> tuple[Image.Image, tuple[int, int, int, int] | None]:
    """`render` and `visible_bbox` together, cached."""
    img = render(path, size)
    return img, visible_bbox(img)
