"""The model shipped in the package, on a real harvested screenshot it never saw (an icon theme
held out of its training): it loads offline, finds the elements, and `find` gets a folder by name."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from deskvision.classes import CLASSES
from deskvision.data import load_annotations
from deskvision.detections import box_iou
from deskvision.evaluation.coco_eval import evaluate_detections
from deskvision.inference import Detector

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# Measured with the shipped model on this screenshot: stage 4 (2026-12-02) mAP@.5 0.777, recall@.5
# 1.0 for folders, the trash, windows, menus, close and minimize buttons, files 0.8, maximize 0.5:
# this look's (Arc) maximize glyph is a pair of diagonal arrows, and one of its two maximize
# buttons was called `minimize` (the stage-3 model found both, helped by their position, which
# stage 4 stopped trusting: BENCHMARKS.md, "stage 4"). Stage 8 (2026-12-03): mAP@.5 0.84, recall
# 1.0 for every class here; the stage 6 candidate, which called both maximize buttons `minimize`,
# failed this test and was not shipped. Stage 9 (shipped since the second session of 2026-12-03):
# mAP@.5 0.91, recall 1.0 for every class but files (0.8: the `Quartz.zip` archive is missed).
# Stage 10 (shipped after it): mAP@.5 0.80, the same recalls, and a false launcher (`Canyon.png`).
# Stage 11 (shipped after stage 10): mAP@.5 0.94, recall 1.0 for every class. Stage 12 (third
# session of 2026-12-03): mAP@.5 0.89, recall 1.0 for every class (launcher: none on this desktop).
# Stage 14 (2026-12-06, int8 runtime): mAP@.5 0.86, recall@.5 1.0 for every class; its one launcher
# and one text field rank below false boxes of their class (AP@.5 0.33 each).
# Stage 22 (2026-12-07, int8): mAP@.5 0.84, recall@.5 1.0 for every class but maximize (0.5: one of
# the two Arc maximize buttons called `minimize`) and the one launcher (missed, called `file`).
# The bounds, unchanged since stage 4, leave room for CPU differences.
MAP50_BOUND = 0.72
RECALL_BOUND = 0.8
RECALL_BOUNDS = {"maximize": 0.5}


@pytest.fixture(scope="module")
def shot():
    ann = load_annotations(SAMPLES / "real_desktop.via.json")
    ann.map_labels(CLASSES)
    return ann.images[0], ann.path(ann.images[0])


def test_shipped_model_loads_offline_with_the_canonical_classes():
    detector = Detector.load()
    assert detector.classes == CLASSES
    assert detector.metadata["config"]["arch"] == "fasterrcnn_tiny_context_fpn"


def test_shipped_model_finds_the_elements_of_a_real_screenshot(shot):
    truth, path = shot
    found = Detector.load(threshold=0.05)(path)
    metrics = evaluate_detections([(truth.boxes, np.array([CLASSES.index(c) + 1 for c in truth.labels]))], [found], CLASSES)
    recall = {name: v["recall50"] for name, v in metrics.per_class.items()}
    # Measured on this screenshot: see BENCHMARKS.md; bounds leave room for CPU differences.
    assert metrics.map50 >= MAP50_BOUND, metrics.per_class
    for name in ("folder", "file", "trash", "window", "close", "minimize", "maximize", "menu"):
        assert recall[name] >= RECALL_BOUNDS.get(name, RECALL_BOUND), (name, recall)


def test_every_kind_of_input_gives_the_same_detections(shot):
    from PIL import Image

    path = shot[1]
    detector = Detector.load()
    want = detector(path)  # a PNG path: decoded by libspng straight into an array
    rgba = np.dstack([np.asarray(Image.open(path).convert("RGB")), np.full(Image.open(path).size[::-1], 255, np.uint8)])
    rgba.flags.writeable = False  # e.g. a frame buffer: copied, not written
    for source in (path.read_bytes(), Image.open(path), rgba):
        got = detector(source)
        assert got.class_names == want.class_names and np.array_equal(got.class_id, want.class_id), type(source)
        np.testing.assert_array_equal(got.xyxy, want.xyxy)
        np.testing.assert_array_equal(got.scores, want.scores)


def test_find_gets_a_folder_by_its_name_on_a_real_screenshot(shot):
    from deskvision.errors import DeskvisionError
    from deskvision.ocr import create_engine, find, read_text

    try:
        ocr = create_engine("rapidocr")
    except DeskvisionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs the OCR engines: {exc}")
        pytest.skip(str(exc))
    truth, path = shot
    elements = read_text(path, Detector.load()(path), ocr).elements
    for name in ("Mercury", "mercury", "Hazel"):
        best = find(elements, name, cls="folder")[0]
        real = truth.boxes[[t == name.title() and c == "folder" for t, c in zip(truth.texts, truth.labels, strict=True)]]
        assert box_iou(np.array([best.box]), real).max() > 0.5, (name, best)


def test_shipped_model_finds_nothing_on_plain_and_gradient_wallpapers():
    from PIL import Image

    ramp = np.linspace(0, 1, 720, dtype=np.float32)[:, None, None]
    walls = [
        Image.new("RGB", (1280, 720), (58, 110, 165)),
        Image.fromarray((np.array([30, 60, 90]) * (1 - ramp) + np.array([200, 120, 60]) * ramp).repeat(1280, 1).astype(np.uint8)),
    ]
    detector = Detector.load()
    for wall in walls:
        assert len(detector(wall)) == 0, detector(wall).to_list()


def test_drop_nested_leaves_one_box_per_element_of_a_class(shot):
    _, path = shot
    plain = Detector.load()(path)
    dropped = Detector.load(drop_nested=True)(path)
    assert 0 < len(dropped) <= len(plain)
    assert {tuple(b) for b in dropped.xyxy.tolist()} <= {tuple(b) for b in plain.xyxy.tolist()}
    b = dropped.xyxy
    inter = (np.minimum(b[:, None, 2:], b[None, :, 2:]) - np.maximum(b[:, None, :2], b[None, :, :2])).clip(0).prod(2)
    smaller = np.minimum(dropped.area[:, None], dropped.area[None, :])
    nested = (inter >= 0.9 * smaller) & (dropped.class_id[:, None] == dropped.class_id[None, :])
    np.fill_diagonal(nested, False)
    windows = np.array([label == "window" for label in dropped.labels])
    assert not nested[~windows][:, ~windows].any()


def test_title_bar_steps_and_box_voting_on_a_real_screenshot(shot):
    truth, path = shot
    assert not Detector.load().one_per_titlebar  # opt-in, by its rule (docs/default_training/stage7_plan.md)
    found = Detector.load(threshold=0.05, box_vote=0.5, square_buttons=True)(path)
    metrics = evaluate_detections([(truth.boxes, np.array([CLASSES.index(c) + 1 for c in truth.labels]))], [found], CLASSES)
    assert metrics.map50 >= MAP50_BOUND, metrics.per_class
    assert 0 < len(found) <= 300  # voting keeps the model's cap on detections
    buttons = found.filter(classes=["close", "minimize", "maximize"])
    w, h = buttons.xyxy[:, 2] - buttons.xyxy[:, 0], buttons.xyxy[:, 3] - buttons.xyxy[:, 1]
    inside = buttons.xyxy[:, 0] > 0  # squares are cut only at the screen's left and top edges
    assert len(buttons) and np.allclose(w[inside], h[inside], atol=0.01) and (np.maximum(w, h) >= 16 - 0.01).all()
    # the title-bar step only reorders scores: the same boxes come out before the duplicate filter
    kw = {"threshold": 0.05, "duplicate_iou": None}
    assigned, free = Detector.load(one_per_titlebar=True, **kw)(path), Detector.load(**kw)(path)
    assert sorted(map(tuple, assigned.xyxy.tolist())) == sorted(map(tuple, free.xyxy.tolist()))
