"""Reading the screen: text lines of small regions, fuzzy finding, and real OCR engines on
synthetic desktops whose labels are known (CI installs Tesseract and RapidOCR)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image, ImageDraw, ImageFont

from deskvision.classes import CLASSES
from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.detections import Detections
from deskvision.ocr import find, read_text, similarity
from deskvision.ocr.find import closest
from deskvision.ocr.lines import split_lines, text_mask

NAMES = ("__background__", *CLASSES)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int):
    return ImageFont.truetype(FONT, size) if os.path.exists(FONT) else ImageFont.load_default(size)


def test_label_lines_are_split_and_neighbours_dropped():
    img = Image.new("RGB", (220, 70), (40, 60, 90))  # a dark wallpaper: light text
    d = ImageDraw.Draw(img)
    d.text((80, 4), "Cedar", fill=(250, 250, 250), font=_font(14))
    d.text((75, 24), "timber", fill=(250, 250, 250), font=_font(14))
    d.text((-6, 4), "ry.c", fill=(250, 250, 250), font=_font(14))  # a neighbour's label, cut by the side
    d.line([(218, 0), (218, 69)], fill=(250, 250, 250), width=2)  # a window border
    d.rectangle([70, 62, 150, 69], fill=(250, 250, 250))  # the next icon's glyph, cut by the bottom
    mask = text_mask(img, upscale=2)
    lines = split_lines(mask, drop_cut=True)
    assert len(lines) == 2
    for x0, _, x1, _ in lines:
        assert 130 < x0 < 170 and 220 < x1 < 300  # our label only, in 2x pixels
    assert len(split_lines(mask, drop_cut=False)) == 3  # the glyph row is kept without drop_cut


def test_similarity_ignores_case_accents_spacing_and_reads_elided_labels():
    assert similarity("Documents", "documents") == 100
    assert similarity("Resume", "Résumé") == 100
    assert similarity("my   notes", "My notes") == 100
    assert similarity("Very long name.txt", "Very long na…") >= 95
    assert similarity("Very long name.txt", "Very long na...") >= 95
    assert similarity("Documents", "Docurnents") > 80  # an OCR slip
    assert similarity("Documents", "Downloads") < 70


def _elements(items: list[tuple[str, str | None]]) -> Detections:
    boxes = [[10 + 60 * i, 10, 58 + 60 * i, 58] for i in range(len(items))]
    return Detections(boxes, [NAMES.index(c) for c, _ in items], np.linspace(0.9, 0.8, len(items)), NAMES, [t for _, t in items])


def test_find_returns_the_best_match_with_its_point_to_click():
    els = _elements([("folder", "Downloads"), ("folder", "Documents"), ("file", "documents.txt"), ("button", "Open")])
    best = find(els, "documents", cls="folder")[0]
    assert (best.index, best.cls, best.text, best.score) == (1, "folder", "Documents", 100)
    assert best.center == (94.0, 34.0)
    assert [m.index for m in find(els, "DOCUMENTS")] == [1, 2]  # best first; the .txt file reads close
    assert find(els, "Trash") == []
    near = closest(els, "Documemts", cls="folder")
    assert near is not None and near.text == "Documents"
    with pytest.raises(ValueError, match="unknown class"):
        find(els, "x", cls="folders")


# -- real engines on synthetic desktops ----------------------------------------------------------


def _engine(name: str):
    from deskvision.errors import DeskvisionError
    from deskvision.ocr import create_engine

    try:
        return create_engine(name)
    except DeskvisionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the OCR engines: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> AnnotationSet:
    from deskvision.synth import icons, wm
    from deskvision.synth.desktop import synth_screenshot

    icon_themes, wm_themes = icons.installed_icon_themes(), wm.installed_wm_themes()
    if not icon_themes or not wm_themes:
        if os.environ.get("CI"):
            pytest.fail("CI installs icon and xfwm4 themes")
        pytest.skip("no icon or xfwm4 theme installed")
    root = tmp_path_factory.mktemp("ocr")
    images = []
    seed = 99
    while len(images) < 4:
        seed += 1
        img, boxes, labels, attrs, texts = synth_screenshot(seed, (1280, 720), icon_themes, wm_themes)
        if "blur" in attrs:  # deliberately blurred for detection training: 9-px text gets unreadable
            continue
        name = f"s{len(images)}.png"
        img.save(root / name)
        images.append(ImageAnnotation(name, boxes, labels, img.width, img.height, attrs, texts))
    return AnnotationSet(images, root, str(root))


# Synthetic labels are small (9-10 px fonts with drop shadows on saturated wallpapers) and the
# looks depend on the installed themes: a loose bound here; tests/test_harvest.py holds real
# desktops to a tighter one.
@pytest.mark.parametrize(("engine", "bound"), [("rapidocr", 0.35), ("tesseract", 0.4)])
def test_engines_read_known_labels(synthetic, engine, bound):
    from deskvision.evaluation.ocr_eval import evaluate_ocr

    report = evaluate_ocr(synthetic, _engine(engine))
    assert report.overall.elements >= 40
    assert report.overall.cer < bound, report.overall
    assert report.per_class["menu"].cer < 0.1  # captions on flat bars are the easy case
    assert set(report.per_class) >= {"folder", "file", "menu"}


def test_find_on_a_synthetic_screen_exact_and_case_changed(synthetic):
    engine = _engine("rapidocr")
    found = 0
    for im in synthetic.images:
        truth = Detections(im.boxes, [NAMES.index(c) for c in im.labels], np.ones(len(im.labels)), NAMES)
        read = read_text(Image.open(synthetic.path(im)), truth, engine).elements
        for i, (cls, text) in enumerate(zip(im.labels, im.texts, strict=True)):
            if cls != "folder" or not text or "…" in text or sum(t == text for t in im.texts) > 1:
                continue
            for query in (text, text.upper(), text.lower()):
                matches = find(read, query, cls="folder")
                if matches and matches[0].index == i:
                    found += 1
                elif matches:
                    raise AssertionError(f"{query!r} found {matches[0].text!r}, not the folder {text!r}")
    assert found >= 6  # most folders are found by their exact, upper- and lower-case names


def test_find_cli_says_clearly_when_nothing_matches(tmp_path):
    _engine("rapidocr")
    from deskvision.models import ModelConfig, create_model, save_model

    cfg = ModelConfig()
    save_model(create_model(cfg), cfg, tmp_path / "m.safetensors")
    Image.new("RGB", (320, 200), (30, 80, 120)).save(tmp_path / "plain.png")  # a plain wallpaper
    proc = run_cli("find", str(tmp_path / "plain.png"), "Documents", "--class", "folder", "-m", str(tmp_path / "m.safetensors"))
    assert proc.returncode == 1
    assert "no folder reads like 'Documents'" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("find", str(tmp_path / "plain.png"), "x", "--class", "folders", "-m", str(tmp_path / "m.safetensors"))
    assert proc.returncode == 2 and "no class 'folders'" in proc.stderr
    proc = run_cli("detect", str(tmp_path / "plain.png"), "--free-text", "-m", str(tmp_path / "m.safetensors"))
    assert proc.returncode == 2 and "--free-text needs --ocr" in proc.stderr


@pytest.mark.skipif(shutil.which("tesseract") is None and not os.environ.get("CI"), reason="tesseract not installed")
def test_free_text_lines_outside_elements(tmp_path):
    img = Image.new("RGB", (400, 120), (235, 235, 235))
    ImageDraw.Draw(img).text((20, 40), "Backup finished", fill=(20, 20, 20), font=_font(18))
    screen = read_text(img, Detections.empty(NAMES), _engine("rapidocr"), free_text=True)
    assert [line.text for line in screen.lines] == ["Backup finished"]
    assert screen.lines[0].box[0] < 30 and screen.lines[0].box[2] > 150
