"""One look, live: its desktop, its title-bar templates, and screenshots of random
arrangements of real applications, each labelled from the accessibility tree, the window
manager's own geometry and pixel differences (see the README's "Harvest" section)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from deskvision.errors import DeskvisionError
from deskvision.harvest import looks, pixels, titlebar
from deskvision.harvest.looks import Look
from deskvision.harvest.session import XSession, XWindow

_WORD_LIST = """
alpha amber archive atlas budget canyon cedar chart cobalt comet delta draft ember falcon fern field
garnet glacier harbor hazel indigo island jasper juniper kestrel lagoon lantern maple meadow mercury
nectar nova oasis olive orbit pebble pilot quartz quest raven ridge saffron summit tango timber
umber velvet vista walnut willow xenon yarrow zenith invoice notes photos music videos report thesis
recipes travel taxes scans backup slides letters drafts projects school family garden
"""
WORDS = tuple(_WORD_LIST.split())  # names of generated folders and files
FILE_EXTENSIONS = ("txt", "pdf", "png", "jpg", "mp3", "ogg", "mp4", "zip", "tar.gz", "sh", "py", "odt", "docx", "ods",
                   "xlsx", "odp", "html", "json", "c", "iso", "md", "csv", "svg", "deb")  # fmt: skip
DIALOG_TEXTS = (
    "Do you want to save the changes?",
    "Enter the new name:",
    "Delete the selected files?",
    "Connect to the server",
    "The operation completed.",
    "Choose a password",
)
STEADY_TYPES = ("NORMAL", "DIALOG")


@dataclass
class Labels:
    boxes: list[list[float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    texts: list[str | None] = field(default_factory=list)

    def add(self, cls: str, box, text: str | None = None) -> None:
        self.boxes.append([float(v) for v in box])
        self.labels.append(cls)
        self.texts.append(text)

    def clip(self, width: int, height: int) -> None:
        """Clip every box to the screen: a title-bar button's square may reach past its edge."""
        self.boxes = [[min(max(v, 0.0), lim) for v, lim in zip(b, (width, height) * 2, strict=True)] for b in self.boxes]


@dataclass
class DesktopItem:
    name: str  # file name in ~/Desktop ("" for the trash)
    cls: str
    text: str  # the label pcmanfm shows
    cell: tuple[int, int]  # logical position written to pcmanfm's config


def unique_names(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    """Names whose case-insensitive order is decided before any space or dot, so that
    pcmanfm's collation and Python's ``casefold`` sort them alike."""
    out: list[str] = []
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        w = rng.choice(WORDS)
        name = rng.choice((w.capitalize(), w, w.upper() if len(w) < 6 else w.capitalize()))
        if rng.random() < 0.35:
            name += " " + rng.choice(WORDS)
        key = name.casefold().split(" ")[0]
        if any(
            k.casefold().split(" ")[0].startswith(key) or key.startswith(k.casefold().split(" ")[0]) for k in taken | set(out)
        ):
            continue
        out.append(name)
    return out


def file_name(rng: random.Random, stem: str, plain_files: float = 0.0) -> str:
    """A generated file's name: `stem` plus an extension, or with probability `plain_files` the
    bare stem (as README or Makefile are). No random draw is spent when `plain_files` is 0, so
    screens harvested without it stay the same."""
    if plain_files and rng.random() < plain_files:
        return stem
    return f"{stem}.{rng.choice(FILE_EXTENSIONS)}"


def write_file(path: Path) -> None:
    """An empty file, or a line of text for one without extension (so that it is typed as text)."""
    path.write_bytes(b"" if path.suffix else b"plain text\n")


def fm_order(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, class) as pcmanfm lists them: folders first, then by name, case-insensitively."""
    return sorted(entries, key=lambda e: (e[1] != "folder", e[0].casefold()))


class LookSession:
    """A running desktop of one look: ``with LookSession(look, home, seed) as ls: ls.screen(rng)``."""

    def __init__(self, look: Look, home: Path, seed: int, plain_files: float = 0.0):
        self.look = look
        self.plain_files = plain_files  # share of generated files named without an extension
        self.home = Path(home)
        self.seed = seed
        self.rng = random.Random(f"look-{seed}")
        self.session = XSession(self.home, look.size, look.scale)
        self.templates: list[titlebar.ButtonTemplate] = []
        self.desktop: list[tuple[str, tuple[int, int, int, int], str]] = []  # (class, glyph box, text)
        self.folders: dict[str, list[tuple[str, str]]] = {}  # window title -> listing (name, class)
        self.desktop_proc: subprocess.Popen | None = None
        self.desktop_render = np.zeros((0, 0, 3), np.uint8)
        self.fm_pids: set[int] = set()  # pcmanfm processes: the desktop's, and any that opened windows itself

    # -- setting up ------------------------------------------------------------------------
    def __enter__(self) -> LookSession:
        if self.home.exists():
            shutil.rmtree(self.home)
        self.home.mkdir(parents=True)
        looks.write_config(self.look, self.home, self.seed)
        self._make_folders()
        self.session.__enter__()
        try:
            titlebar.start_wm(self.session, self.look)
            self.templates = titlebar.calibrate(self.session, self.look)
            if not self.templates:
                raise DeskvisionError(f"no title-bar button found for {self.look.wm} theme {self.look.wm_theme}")
            self._desktop()
        except BaseException:
            self.session.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def _make_folders(self) -> None:
        rng = self.rng
        (self.home / "Desktop").mkdir()
        taken: set[str] = {"Desktop"}
        for top in unique_names(rng, rng.randint(4, 7), taken):
            taken.add(top)
            folder = self.home / top
            folder.mkdir()
            entries = []
            local: set[str] = set()
            n = rng.choice((2, 4, 6, 9, 12, 16, 24))
            for name in unique_names(rng, n, local):
                local.add(name)
                if rng.random() < 0.35:
                    (folder / name).mkdir()
                    entries.append((name, "folder"))
                else:
                    fname = file_name(rng, name, self.plain_files)
                    write_file(folder / fname)
                    entries.append((fname, "file"))
            self.folders[top] = fm_order(entries)
        (self.home / "notes.txt").write_text("\n".join(" ".join(rng.sample(WORDS, 6)) for _ in range(rng.randint(3, 30))))

    def _launchers(self, n: int) -> list[tuple[str, str]]:
        """(icon name, display name) of applications the look's icon theme draws."""
        from deskvision.synth.icons import find_theme

        theme = find_theme(self.look.icon_theme)
        names = [a for a in (theme.names("Applications", 48) if theme else ()) if re.fullmatch(r"[a-z][a-z0-9-]{2,24}", a)]
        names = names or ["org.xfce.mousepad", "galculator", "system-file-manager"]
        chosen = self.rng.sample(names, min(n, len(names)))
        return [(a, " ".join(p.capitalize() for p in a.split("-")[:2])) for a in chosen]

    def _desktop(self) -> None:
        """Desktop icons: render the desktop empty, then with its items at known cells; the
        difference, cell by cell, is each item's drawing (glyph above its label)."""
        look, rng, s = self.look, self.rng, self.session
        conf = self.home / ".config/pcmanfm/default/desktop-items-0.conf"
        text = conf.read_text()
        conf.write_text(text.replace("show_trash=1", "show_trash=0"))
        proc = s.spawn(["pcmanfm", "--desktop"])
        self._wait_desktop()
        park(s)
        empty = np.asarray(s.wait_stable(quiet=0.4))
        s.kill(proc)

        items: list[DesktopItem] = []
        k = look.scale
        icon_px = look.icon_size * k  # pcmanfm (GTK 2) works in screen pixels, whatever the scale
        gx, gy = icon_px + 72 * k, icon_px + 56 * k
        cols, rows = look.size[0] // gx, look.size[1] // gy
        free = [(c, r) for c in range(cols) for r in range(rows) if (c, r) != (0, 0)]
        side = rng.random()
        weights = [(c if side < 0.25 else cols - c) ** 3 + rng.random() for c, r in free]  # most icons near one edge
        order = [cell for _, cell in sorted(zip(weights, free, strict=True), reverse=side < 0.25)]
        n = rng.randint(3, min(14, len(order)))
        names = unique_names(rng, n, set())
        launchers = self._launchers(max(1, n // 4))
        for i, name in enumerate(names):
            cell = order[i]
            if i < len(launchers):
                icon, title = launchers[i]
                fname = f"{icon}.desktop"
                (self.home / "Desktop" / fname).write_text(
                    f"[Desktop Entry]\nType=Application\nName={title}\nExec=true\nIcon={icon}\nTerminal=false\n"
                )
                items.append(DesktopItem(fname, "launcher", title, cell))
            elif rng.random() < 0.4:
                (self.home / "Desktop" / name).mkdir()
                items.append(DesktopItem(name, "folder", name, cell))
            else:
                fname = file_name(rng, name, self.plain_files)
                write_file(self.home / "Desktop" / fname)
                items.append(DesktopItem(fname, "file", fname, cell))
        trash = rng.random() < 0.85
        positions = "".join(f"\n[{it.name}]\nx={it.cell[0] * gx + 8}\ny={it.cell[1] * gy + 8}\n" for it in items)
        conf.write_text(text.replace("show_trash=1", f"show_trash={int(trash)}") + positions)
        if trash:
            items.append(DesktopItem("", "trash", "Trash", (0, 0)))
        full = self._start_desktop()
        self.desktop_render = full
        mask = pixels.changed(empty, full)
        for it in items:
            x, y = it.cell[0] * gx, it.cell[1] * gy
            cell = (x, y, x + gx, y + icon_px + 24 * k)
            box = pixels.glyph_box(mask, cell, icon_px, gap=2 * k)
            if box is not None and min(box[2] - box[0], box[3] - box[1]) >= 12 * k:
                self.desktop.append((it.cls, box, it.text))

    def _start_desktop(self) -> np.ndarray:
        """Start the desktop with its items; its render once settled."""
        s = self.session
        with open(self.home / "desktop.log", "a") as err:
            self.desktop_proc = s.spawn(["pcmanfm", "--desktop"], stderr=err)
        self.fm_pids.add(self.desktop_proc.pid)
        self._wait_desktop()
        park(s)
        return np.asarray(s.wait_stable(quiet=0.5))

    def _ensure_desktop(self, wins: list[XWindow]) -> None:
        """pcmanfm sometimes crashes when one of its windows closes: start the desktop again,
        and go on only if it draws exactly what its icons were learnt on."""
        if self.desktop_proc is not None and self.desktop_proc.poll() is None and any("DESKTOP" in w.types for w in wins):
            return
        code = None if self.desktop_proc is None else self.desktop_proc.poll()
        if self.desktop_proc is not None:
            self.session.kill(self.desktop_proc)
            self.fm_pids.discard(self.desktop_proc.pid)
        if any("DESKTOP" not in w.types for w in wins if w.mapped):
            raise DeskvisionError(f"the desktop (pcmanfm --desktop) stopped (exit status {code}) with windows open")
        again = self._start_desktop()
        if pixels.changed(again, self.desktop_render).any():
            log = (self.home / "desktop.log").read_text(errors="replace").strip().splitlines()[-2:]
            raise DeskvisionError(f"the desktop (pcmanfm --desktop) stopped (exit status {code}: {' / '.join(log)})")

    def _wait_desktop(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("DESKTOP" in w.types for w in self.session.windows()[0]):
                return
            time.sleep(0.1)
        raise DeskvisionError("pcmanfm --desktop did not draw a desktop")

    # -- one screenshot ------------------------------------------------------------------------
    def screen(self, rng: random.Random) -> tuple[Image.Image, Labels]:
        """Open a random set of windows, take the screenshot, label it, close the windows."""
        state = rng.getstate()
        for _attempt in range(3):
            rng.setstate(state)
            self._ensure_desktop(self.session.windows()[0])  # its icons were learnt once: still shown?
            shot = self._screen_once(rng)
            if shot is not None:
                return shot
        raise DeskvisionError("the desktop (pcmanfm --desktop) keeps stopping")

    def _screen_once(self, rng: random.Random) -> tuple[Image.Image, Labels] | None:
        """One arrangement and its labels; None if the desktop was gone when the shot was taken."""
        s = self.session
        wins = s.windows()[0]
        before = {w.wid for w in wins}
        procs, expected = [], 0
        fm = rng.choice((0, 1, 1, 1, 2, 2, 3))
        for title in rng.sample(sorted(self.folders), min(fm, len(self.folders))):
            # Normally hands the folder to the desktop's pcmanfm and exits; if it cannot, it
            # stays and shows the window itself.
            client = s.spawn(["pcmanfm", "--new-win", str(self.home / title)])
            self.fm_pids.add(client.pid)
            procs.append(client)
            expected += 1
        extra = [
            (0.35, ["zenity", "--entry", "--title", rng.choice(("Rename", "New Folder", "Login", "Search")),
                    "--text", rng.choice(DIALOG_TEXTS), "--entry-text", " ".join(rng.sample(WORDS, 2))]),
            (0.25, ["zenity", rng.choice(("--question", "--info", "--warning", "--error")), "--title",
                    rng.choice(("Question", "Information", "Warning", "Confirm")), "--text", rng.choice(DIALOG_TEXTS)]),
            (0.2, ["yad", "--form", "--title", rng.choice(("Settings", "Account", "Details")), "--field", "Name",
                   "--field", "Email", "--field", "City", " ".join(rng.sample(WORDS, 2)), "", rng.choice(WORDS),
                   "--button", "OK:0", "--button", "Cancel:1"]),
            (0.2, ["mousepad", "--disable-server", str(self.home / "notes.txt")]),
            (0.15, ["galculator"]),
        ]  # fmt: skip
        for p, cmd in extra:
            if rng.random() < p:
                procs.append(s.spawn(cmd))
                expected += 1
        try:
            new = self._wait_new(before, expected)
            self._arrange(new, rng)
            park(s)
            img = s.wait_stable(quiet=0.3)
            elements = s.accessible()
            wins, active = s.windows()
            if self.desktop_proc is None or self.desktop_proc.poll() is not None or not any("DESKTOP" in w.types for w in wins):
                return None
            labels = self.label(np.asarray(img), wins, active, elements)
        finally:
            self._close_all_but(before, procs)
        return img, labels

    def _close_all_but(self, keep: set[int], procs: list, timeout: float = 4.0) -> None:
        """Close the windows opened since `keep` as a user would (the window manager asks the
        program): destroying a GTK 2 window under its program can crash it, and pcmanfm's
        desktop lives in the same process as its windows."""
        s = self.session
        for w in s.windows()[0]:
            if w.wid not in keep:
                s.run(["wmctrl", "-i", "-c", hex(w.wid)])
        for p in procs:
            if p.pid not in self.fm_pids:
                s.kill(p)
        deadline = time.monotonic() + timeout
        while any(w.wid not in keep for w in s.windows()[0]):
            if time.monotonic() > deadline:
                raise DeskvisionError("windows of the last screenshot did not close")
            time.sleep(0.1)
        for p in procs:
            s.kill(p)
            self.fm_pids.discard(p.pid)

    def _wait_new(self, before: set[int], expected: int, timeout: float = 10.0) -> list[XWindow]:
        deadline = time.monotonic() + timeout
        while True:
            new = [w for w in self.session.windows()[0] if w.wid not in before and w.mapped]
            if len(new) >= expected or time.monotonic() > deadline:
                return new
            time.sleep(0.1)

    def _arrange(self, windows: list[XWindow], rng: random.Random) -> None:
        W, H = self.look.size
        k = self.look.scale
        for w in windows:
            x0, y0, x1, y1 = w.frame
            ww, hh = x1 - x0, y1 - y0
            if w.pid in self.fm_pids and "NORMAL" in w.types:  # a file-manager window: any size
                ww, hh = min(W - 20, rng.randint(440, 900) * k), min(H - 20, rng.randint(320, 680) * k)
                self.session.run(["xdotool", "windowsize", str(w.wid), str(ww), str(hh)])
            x = rng.randint(0, max(0, W - ww))
            y = rng.randint(0, max(0, H - hh))
            self.session.run(["xdotool", "windowmove", str(w.wid), str(x), str(y)])

    # -- labels ------------------------------------------------------------------------------
    def label(self, img: np.ndarray, wins: list[XWindow], active: int, elements: list[dict]) -> Labels:
        out = Labels()
        shown = [w for w in wins if w.mapped and any(t in STEADY_TYPES for t in w.types) and "HIDDEN" not in w.states]
        frames = [w.frame for w in shown]
        for cls, box, text in self.desktop:
            if not pixels.covered(box, frames):
                out.add(cls, box, text)
        for i, w in enumerate(shown):
            above = frames[i + 1 :]
            part = pixels.visible_part(_clip(w.frame, self.look.size), above)
            if part is not None:
                out.add("window", part, w.name)
            for cls, box in titlebar.find_buttons(img, w, w.wid == active, self.templates):
                if not pixels.covered(box, above):
                    out.add(cls, pixels.square(box, 16 * self.look.scale), None)
            mine = [e for e in (_in_window(e, w, self.look.scale) for e in elements) if e is not None]
            self._label_contents(img, w, above, mine, out)
        out.clip(img.shape[1], img.shape[0])
        return out

    def _label_contents(self, img: np.ndarray, w: XWindow, above: list, elements: list[dict], out: Labels) -> None:
        k = self.look.scale
        icons = []
        for e in elements:
            x, y, bw, bh = e["box"]
            box = (x, y, x + bw, y + bh)
            if bw < 6 or bh < 6 or not _inside(box, w.frame):
                continue
            role = e["role"]
            clip = _xyxy(e["clip"]) if e.get("clip") else w.frame
            if role == "icon" and not e.get("name") and w.pid in self.fm_pids and bw >= 24 * k:
                icons.append((box, clip))  # its glyph is checked for scrolling and cover below
                continue
            if not _inside(box, clip):  # scrolled partly out of view
                continue
            if pixels.covered(box, above):
                continue
            if role in ("push button", "toggle button"):
                out.add("button", box, e.get("name") or None)
            elif role in ("text", "entry", "password text") and e.get("single_line"):
                out.add("text_field", box, e.get("text") or None)
            elif role == "menu" and e.get("parent") == "menu bar":
                out.add("menu", box, e.get("name") or None)
        listing = self.folders.get(w.name)
        if listing is None or not icons:
            return
        icons.sort(key=lambda b: (b[0][1], b[0][0]))
        # The view shows its first items (it opens scrolled to the top), in row-major order.
        for (box, clip), (name, cls) in zip(icons, listing, strict=False):
            seen = np.zeros(img.shape[:2], bool)
            seen[max(0, clip[1]) : max(0, clip[3]), max(0, clip[0]) : max(0, clip[2])] = True
            for a in above:  # another window's pixels are not this icon's
                seen[max(0, a[1]) : max(0, a[3]), max(0, a[0]) : max(0, a[2])] = False
            vis = (max(box[0], clip[0]), max(box[1], clip[1]), min(box[2], clip[2]), min(box[3], clip[3]))
            if vis[2] - vis[0] < 12 * k or vis[3] - vis[1] < 12 * k:
                continue
            # The background colour is read on the border of the part inside the view.
            glyph = pixels.glyph_box(pixels.background_mask(img, vis) & seen, box, self.look.icon_size * k, gap=2 * k)
            if glyph is None or min(glyph[2] - glyph[0], glyph[3] - glyph[1]) < 12 * k:
                continue
            # A glyph that touches the view's edge or a window above may be cut: not labelled.
            grown = (glyph[0] - 2, glyph[1] - 2, glyph[2] + 2, glyph[3] + 2)
            if _inside(grown, clip, tol=0) and not pixels.covered(grown, above):
                out.add(cls, glyph, name)


def park(session: XSession) -> None:
    """The pointer out of the way (bottom-right corner), so nothing is drawn hovered."""
    session.run(["xdotool", "mousemove", str(session.size[0] - 1), str(session.size[1] - 1)])


def _xyxy(b) -> tuple[int, int, int, int]:
    return (b[0], b[1], b[0] + b[2], b[1] + b[3])


def _inside(box, outer, tol: int = 1) -> bool:
    return box[0] >= outer[0] - tol and box[1] >= outer[1] - tol and box[2] <= outer[2] + tol and box[3] <= outer[3] + tol


def _clip(box, size) -> tuple[int, int, int, int]:
    return (max(0, box[0]), max(0, box[1]), min(size[0], box[2]), min(size[1], box[3]))


def _in_window(element: dict, window: XWindow, scale: int) -> dict | None:
    """`element` in screen pixels if it belongs to `window` (same process, same top-level
    title, top-level box on the window's frame), else None. GTK 3 programs report logical
    coordinates under GDK_SCALE (screen pixels / scale), GTK 2 programs screen pixels."""
    top = element.get("top")
    if element.get("pid") != window.pid or not top or top.get("name", "") != window.name:
        return None
    for f in {1, scale}:
        if _inside([v * f for v in _xyxy(top["box"])], window.frame, tol=2 * f):
            out = dict(element, box=[v * f for v in element["box"]])
            if element.get("clip"):
                out["clip"] = [v * f for v in element["clip"]]
            return out
    return None
