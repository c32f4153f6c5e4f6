"""Dump the accessible elements of every application on the X display as JSON lines.

Runs under the *system* Python (``/usr/bin/python3``), which has the ``pyatspi``/``gi``
bindings; deskvision's own Python calls it as a subprocess.  Standard library only.
"""

import json
import sys

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

KEEP = {
    "frame",
    "dialog",
    "alert",
    "file chooser",
    "window",
    "push button",
    "toggle button",
    "text",
    "entry",
    "password text",
    "menu",
    "icon",
    "combo box",
    "page tab",
    "spin button",
}
MAX_NODES = 20000


CLIPPING = {"scroll pane", "viewport", "layered pane", "table", "tree table", "tree", "list"}


def _intersect(a, b):
    if a is None:
        return b
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return [x0, y0, max(0, x1 - x0), max(0, y1 - y0)]


def walk(app_name, node, depth, out, budget, parent="", top=None, clip=None):
    """Visible elements under `node`; `top` is the top-level window they belong to and `clip`
    the visible area of the scrolled containers around them (screen coordinates)."""
    if budget[0] <= 0 or depth > 60:
        return
    budget[0] -= 1
    try:
        role = node.get_role_name()
        states = node.get_state_set()
        showing = states.contains(Atspi.StateType.SHOWING) and states.contains(Atspi.StateType.VISIBLE)
    except Exception:
        return
    if role in KEEP and showing:
        try:
            ext = node.get_extents(Atspi.CoordType.SCREEN)
            rec = {
                "app": app_name,
                "role": role,
                "name": node.get_name() or "",
                "parent": parent,
                "top": top,
                "clip": clip,
                "box": [ext.x, ext.y, ext.width, ext.height],
                "depth": depth,
                "single_line": states.contains(Atspi.StateType.SINGLE_LINE),
                "editable": states.contains(Atspi.StateType.EDITABLE),
                "active": states.contains(Atspi.StateType.ACTIVE),
            }
            if role in ("text", "entry", "password text"):
                try:
                    t = node.get_text_iface()
                    rec["text"] = t.get_text(0, min(t.get_character_count(), 200)) if t else ""
                except Exception:
                    rec["text"] = ""
            out.append(rec)
        except Exception:
            pass
    if not showing and role not in ("application",) and depth > 0:
        return
    if depth == 1:
        try:
            e = node.get_extents(Atspi.CoordType.SCREEN)
            top = {"name": node.get_name() or "", "role": role, "box": [e.x, e.y, e.width, e.height]}
        except Exception:
            top = None
    elif role in CLIPPING:
        try:
            e = node.get_extents(Atspi.CoordType.SCREEN)
            if e.width > 0 and e.height > 0:
                clip = _intersect(clip, [e.x, e.y, e.width, e.height])
        except Exception:
            pass
    try:
        n = node.get_child_count()
    except Exception:
        return
    for i in range(min(n, 5000)):
        try:
            child = node.get_child_at_index(i)
        except Exception:
            continue
        if child is not None:
            walk(app_name, child, depth + 1, out, budget, role, top, clip)


def main():
    desktop = Atspi.get_desktop(0)
    out = []
    budget = [MAX_NODES]
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is None:
            continue
        try:
            pid = app.get_process_id()
        except Exception:
            pid = -1
        recs = []
        walk(app.get_name() or "", app, 0, recs, budget)
        for r in recs:
            r["pid"] = pid
        out.extend(recs)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
