"""The window manager of a look, and its title-bar buttons learnt by differential rendering.

The buttons are drawn by the window manager, not by the applications, so they are not in the
accessibility tree. For each look we open two empty-titled windows (one active, one inactive)
and take the title bar away one button at a time ("HMC" → "MC" → "C" → ""): what changes
between two renders is exactly the removed button's drawing. Those crops are the templates
that `find_buttons` matches, exactly, in the title bars of the harvested screens."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import numpy as np

from deskvision.classes import BUTTON_CLASS
from deskvision.errors import DeskvisionError
from deskvision.harvest import looks
from deskvision.harvest.looks import Look
from deskvision.harvest.pixels import Box, changed, covered, template_matches
from deskvision.harvest.session import CALIBRATION_WINDOW, SYSTEM_PYTHON, XSession, XWindow

ACTION_OF = {"minimize": "MINIMIZE", "maximize": "MAXIMIZE_HORZ", "close": "CLOSE"}


@dataclass
class ButtonTemplate:
    cls: str  # close, minimize or maximize
    active: bool  # drawn on the active (focused) window's title bar
    pixels: np.ndarray  # the drawing's crop, H×W×3
    top: int  # its offset below the frame's top edge
    right: int  # its left edge's distance to the frame's right edge


def start_wm(session: XSession, look: Look) -> subprocess.Popen:
    """Start the look's window manager; it is ready once it has published its EWMH check
    window and is still running a moment later."""
    if look.wm == "xfwm4":
        cmd = ["xfwm4", "--compositor=off", "--replace"]
    elif look.wm == "openbox":
        cmd = ["openbox", "--replace", "--config-file", str(session.home / ".config/openbox/rc.xml")]
    else:
        raise DeskvisionError(f"unknown window manager {look.wm!r}")
    log = session.home / "wm.log"
    for _attempt in range(3):
        with open(log, "w") as err:
            proc = session.spawn(cmd, stderr=err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if "window id" in session.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"]):
                time.sleep(0.3)
                break
            time.sleep(0.1)
        if proc.poll() is None:
            return proc
        session.kill(proc)
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    raise DeskvisionError(f"the window manager {look.wm} did not start: {' / '.join(tail) or 'no message'}")


def set_layout(session: XSession, look: Look, buttons: str) -> None:
    """Show only `buttons` (a subset of look.button_layout) on the title bars, live."""
    if look.wm == "xfwm4":
        session.run(
            ["xfconf-query", "-c", "xfwm4", "-p", "/general/button_layout", "-s", looks.xfwm4_layout(look, buttons)], check=True
        )
    else:
        (session.home / ".config/openbox/rc.xml").write_text(looks.openbox_rc(look, buttons))
        session.run(["openbox", "--reconfigure"], check=True)


def wait_windows(session: XSession, pids: set[int], count: int, timeout: float = 30.0) -> list[XWindow]:
    """The mapped windows of processes `pids` once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        wins = [w for w in session.windows()[0] if w.pid in pids and w.mapped]
        if len(wins) >= count or time.monotonic() > deadline:
            return wins
        time.sleep(0.1)


def calibrate(session: XSession, look: Look) -> list[ButtonTemplate]:
    """Templates of every title-bar button of `look`, active and inactive."""
    s = session.scale
    a = b = None
    try:
        for _attempt in range(3):  # a window mapped while the WM was still starting may stay unmanaged
            # GTK 3 scales these logical sizes by GDK_SCALE itself.
            a = session.spawn([SYSTEM_PYTHON, str(CALIBRATION_WINDOW), "300", "120", "40", "40"])
            b = session.spawn([SYSTEM_PYTHON, str(CALIBRATION_WINDOW), "300", "120", "40", "300"])
            wins = wait_windows(session, {a.pid, b.pid}, 2, timeout=8)
            if len(wins) == 2:
                break
            session.kill(a)
            session.kill(b)
        else:
            raise DeskvisionError("calibration windows did not appear")
        wins.sort(key=lambda w: w.pid != a.pid)
        session.run(["xdotool", "windowmove", str(wins[0].wid), str(40 * s), str(40 * s)])
        height = wins[0].frame[3] - wins[0].frame[1]
        session.run(["xdotool", "windowmove", str(wins[1].wid), str(40 * s), str(height + 80 * s)])
        first = next(w for w in wins if w.pid == a.pid)
        session.run(["xdotool", "windowactivate", "--sync", str(first.wid)])
        session.run(["xdotool", "mousemove", str(session.size[0] - 1), str(session.size[1] - 1)])
        templates: list[ButtonTemplate] = []
        layout = look.button_layout
        set_layout(session, look, layout)
        before = np.asarray(session.wait_stable())
        wins, active = session.windows()
        wins = [w for w in wins if w.pid in (a.pid, b.pid)]
        for i in range(len(layout)):
            rest = layout[i + 1 :]
            set_layout(session, look, rest)
            after = np.asarray(session.wait_stable())
            diff = changed(before, after, threshold=0)
            for w in wins:
                x0, y0, x1, y1 = w.frame
                title = _title_height(w)
                region = diff[y0 : y0 + title, x0:x1]
                ys, xs = np.nonzero(region)
                if ys.size == 0:
                    continue
                bx0, by0, bx1, by1 = x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1
                templates.append(
                    ButtonTemplate(
                        BUTTON_CLASS[layout[i]], w.wid == active, before[by0:by1, bx0:bx1].copy(), int(by0 - y0), int(x1 - bx0)
                    )
                )
            before = after
        set_layout(session, look, layout)
        _check(templates, look, wins)
        return templates
    finally:
        for p in (a, b):
            if p is not None:
                session.kill(p)


def _check(templates: list[ButtonTemplate], look: Look, wins: list[XWindow]) -> None:
    """Refuse templates that are not one button each. Some themes redraw the whole title
    (a gradient stretched over the label) when a button goes: no exact drawing can be learnt."""
    title = max(w.title for w in wins)
    for t in templates:
        h, w = t.pixels.shape[:2]
        if h > title or w > 3 * title:
            raise DeskvisionError(
                f"{look.wm} theme {look.wm_theme}: the title bar changes beyond the {t.cls} button when it is "
                "removed; its buttons cannot be learnt by differential rendering"
            )
    # Each removal must change one button only: the drawings learnt for different buttons of one
    # title bar may not overlap (some themes shift or redraw a neighbour when a button goes).
    for t in templates:
        for u in templates:
            if t.cls < u.cls and t.active == u.active and _span(t)[0] < _span(u)[1] and _span(u)[0] < _span(t)[1]:
                raise DeskvisionError(
                    f"{look.wm} theme {look.wm_theme}: removing a button also changes its neighbour "
                    f"({t.cls} and {u.cls} overlap); its buttons cannot be learnt by differential rendering"
                )
    found = {(t.cls, t.active) for t in templates}
    missing = [
        f"{c} ({'active' if a else 'inactive'})" for c in set(BUTTON_CLASS.values()) for a in (True, False) if (c, a) not in found
    ]
    if missing:
        raise DeskvisionError(f"{look.wm} theme {look.wm_theme}: no drawing found for {', '.join(sorted(missing))}")


def _span(t: ButtonTemplate) -> tuple[int, int]:
    """The columns a template covers, counted leftwards from the frame's right edge."""
    return t.right - t.pixels.shape[1], t.right


def _title_height(w: XWindow) -> int:
    """The frame's top decoration height (title bar and top border), from the window's frame
    and client geometry as the window manager reports them."""
    return max(8, w.title)


def find_buttons(img: np.ndarray, window: XWindow, active: bool, templates: list[ButtonTemplate]) -> list[tuple[str, Box]]:
    """The title-bar buttons of `window` in the screenshot `img`, by exact template match.

    One glyph can be part of another (Greybird's and Materia's minimize bar is the middle of
    their maximize plus), so a button never takes the place of one found before it, and of its
    template's matches it takes the one nearest to where calibration saw it."""
    x0, y0, x1, y1 = window.frame
    # The buttons sit at the right end: never search the title text, which may hold look-alikes.
    x0 = max(x0, x1 - max((t.right for t in templates), default=0) - 4)
    found: list[tuple[str, Box]] = []
    for cls in ("close", "maximize", "minimize"):
        if ACTION_OF[cls] not in window.actions:
            continue
        candidates = [t for t in templates if t.cls == cls and t.active == active] or [t for t in templates if t.cls == cls]
        for t in candidates:
            h = t.pixels.shape[0]
            taken = [box for _, box in found]
            boxes = [b for b in template_matches(img, t.pixels, (x0, y0 + t.top, x1, y0 + t.top + h)) if not covered(b, taken)]
            if boxes:
                found.append((cls, min(boxes, key=lambda b: abs(b[0] - (x1 - t.right)))))
                break
    return found
