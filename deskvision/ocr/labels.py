"""Tell files from launchers by the labels under their icons.

A file's label is its name, extension included (``report.pdf``); a launcher (a ``.desktop``
file) is labelled with the application's name, which has none. The detector sees only the
glyph, and calls application icons it has never seen ``file`` (BENCHMARKS.md, "Where launchers
go wrong"). Once the labels are read (`deskvision.ocr.read_text`), `relabel_icons` applies one
of these rules to the `file` and `launcher` detections:

- ``"extension"``: an icon whose label ends in an extension is a `file`;
- ``"both"``: that, and a `file` whose label shows no extension is a `launcher` — wrong for
  files named without one (``README``, ``Makefile``);
- ``"off"``: the detector's classes stay.

A label cut short (``Quarterly repo…``) says nothing, and neither does an unread one.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from deskvision.detections import Detections

ICON_RULES = ("off", "extension", "both")
DEFAULT_ICON_RULE = "extension"  # chosen by measurement: BENCHMARKS.md, "Files and launchers told by their labels"
FILE, LAUNCHER = "file", "launcher"
# a name, a dot, then 1-5 letters or digits starting with a letter: .txt, .tar.gz, .mp3, .c
_EXTENSION = re.compile(r"\w[^\s.]*\.[A-Za-z][A-Za-z0-9]{0,4}$")
_ELLIPSIS = ("…", "...")


def has_extension(label: str) -> bool:
    """Whether `label` ends in a file extension. Spaces next to a dot are ignored: a label
    wrapped after its dot (``notes.`` / ``txt``) comes back from OCR as ``notes. txt``."""
    text = re.sub(r"\s*\.\s*", ".", label.strip())
    return bool(_EXTENSION.search(text))


def check_icon_rule(rule: str) -> None:
    """Raise ValueError for a rule that is not one of `ICON_RULES`."""
    if rule not in ICON_RULES:
        raise ValueError(f"unknown icon-label rule {rule!r}; choose among {', '.join(ICON_RULES)}")


def label_class(label: str | None, rule: str) -> str | None:
    """`file`, `launcher`, or None (no verdict) for an icon labelled `label` under `rule`."""
    check_icon_rule(rule)
    if rule == "off" or not label or label.strip().endswith(_ELLIPSIS):
        return None
    if has_extension(label):
        return FILE
    if rule == "both" and sum(c.isalpha() for c in label) >= 2:
        return LAUNCHER
    return None


def relabel_icons(elements: Detections, rule: str = DEFAULT_ICON_RULE, same_glyph_iou: float = 0.7) -> Detections:
    """`elements` (texts read) with `file`/`launcher` classes decided by their labels under `rule`.

    A glyph the detector gave both classes (``file`` 0.8 and ``launcher`` 0.3) would end up
    with two boxes of one class: of those that overlap by more than `same_glyph_iou`, the
    best-scored one is kept.
    """
    check_icon_rule(rule)
    names = elements.class_names
    if rule == "off" or FILE not in names or LAUNCHER not in names or not len(elements):
        return elements
    ids = {FILE: names.index(FILE), LAUNCHER: names.index(LAUNCHER)}
    class_id = elements.class_id.copy()
    icons = np.flatnonzero(np.isin(class_id, list(ids.values())))
    for i in icons:
        verdict = label_class(elements.text[i], rule)
        if verdict is not None:
            class_id[i] = ids[verdict]
    relabelled = dataclasses.replace(elements, class_id=class_id)
    keep = np.ones(len(elements), dtype=bool)
    keep[icons] = False
    keep[icons[relabelled[icons].nms_indices(same_glyph_iou)]] = True
    return relabelled[np.flatnonzero(keep)]
