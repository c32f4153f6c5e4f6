"""Files and launchers told apart by the labels read under their icons (`relabel_icons`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from deskvision.classes import CLASSES
from deskvision.detections import Detections
from deskvision.ocr import has_extension, label_class, read_text, relabel_icons

NAMES = ("__background__", *CLASSES)
FILE, LAUNCHER, FOLDER, WINDOW = (NAMES.index(c) for c in ("file", "launcher", "folder", "window"))


@pytest.mark.parametrize(
    "label, expected",
    [
        ("report.pdf", True),
        ("Budget notes.tar.gz", True),
        ("notes. txt", True),  # wrapped after the dot
        ("photo.JPG", True),
        ("main.c", True),
        ("Firefox Web Browser", False),
        ("LibreOffice 7.3", False),  # a version, not an extension
        ("README", False),
        (".bashrc", False),  # a hidden file's name is all extension: no verdict
        ("Quarterly repo…", False),
    ],
)
def test_has_extension(label, expected):
    assert has_extension(label) is expected


def test_label_class_by_rule():
    assert label_class("report.pdf", "extension") == "file"
    assert label_class("Text Editor", "extension") is None
    assert label_class("Text Editor", "both") == "launcher"
    assert label_class("report.pdf", "both") == "file"
    assert label_class("Quarterly repo…", "both") is None  # cut short: its end is not shown
    assert label_class(None, "both") is None and label_class("", "both") is None
    assert label_class("7", "both") is None  # a stray character read is no label
    assert label_class("report.pdf", "off") is None
    with pytest.raises(ValueError, match="unknown icon-label rule"):
        label_class("report.pdf", "guess")


def _screen() -> Detections:
    boxes = [
        [10, 10, 58, 58],  # an unseen application icon, called file 0.8 and launcher 0.3
        [10, 10, 58, 59],
        [100, 10, 148, 58],  # a file called launcher
        [200, 10, 248, 58],  # a folder
        [0, 100, 400, 300],  # a window
        [300, 10, 348, 58],  # a file whose label was not read
    ]
    return Detections(
        np.array(boxes, np.float32),
        [FILE, LAUNCHER, LAUNCHER, FOLDER, WINDOW, FILE],
        [0.8, 0.3, 0.6, 0.9, 0.7, 0.5],
        NAMES,
        ["Text Editor", "Text Editor", "notes.txt", "Photos", "Editor", None],
    )


def test_relabel_icons_rules():
    both = relabel_icons(_screen(), "both")
    assert both.labels == ["launcher", "file", "folder", "window", "file"]  # same order, by score here
    np.testing.assert_allclose(both.scores, [0.8, 0.6, 0.9, 0.7, 0.5])  # the 0.3 duplicate dropped
    assert both.text == ["Text Editor", "notes.txt", "Photos", "Editor", None]

    ext = relabel_icons(_screen(), "extension")
    assert ext.labels == ["file", "launcher", "file", "folder", "window", "file"]  # no verdict on "Text Editor"

    off = relabel_icons(_screen(), "off")
    assert off.labels == _screen().labels
    with pytest.raises(ValueError, match="unknown icon-label rule"):
        relabel_icons(_screen(), "guess")
    assert len(relabel_icons(Detections.empty(NAMES), "both")) == 0


class _Engine:
    """Reads every line as the same text."""

    def __init__(self, text: str):
        self.text = text

    def read_line(self, line: Image.Image) -> tuple[str, float]:
        return self.text, 1.0

    def read(self, image: Image.Image):
        return []


def test_read_text_applies_the_rule_to_what_it_reads():
    img = Image.new("RGB", (200, 140), (40, 60, 90))
    d = ImageDraw.Draw(img)
    d.rectangle([76, 10, 124, 58], fill=(200, 180, 60))  # the glyph
    d.rectangle([70, 66, 130, 76], fill=(250, 250, 250))  # its label, one line
    icon = Detections(np.array([[76, 10, 124, 58]], np.float32), [LAUNCHER], [0.7], NAMES)
    read = read_text(img, icon, _Engine("report.pdf")).elements  # default rule: extension
    assert read.labels == ["file"] and read.text == ["report.pdf"]
    kept = read_text(img, icon, _Engine("report.pdf"), icon_labels="off").elements
    assert kept.labels == ["launcher"]
    with pytest.raises(ValueError, match="unknown icon-label rule"):
        read_text(img, icon, _Engine("x"), icon_labels="guess")


def test_detect_cli_rejects_an_unknown_rule(tmp_path):
    Image.new("RGB", (64, 48)).save(tmp_path / "s.png")
    proc = subprocess.run(
        [sys.executable, "-m", "deskvision.cli.main", "detect", str(tmp_path / "s.png"), "--ocr", "--icon-labels", "guess"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "--icon-labels must be" in proc.stderr and "Traceback" not in proc.stderr
