"""The shared result type: filtering, overlap handling that keeps nested elements, exports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deskvision.classes import CLASSES
from deskvision.detections import Detections, box_iou

NAMES = ("__background__", *CLASSES)


def _dets(rows):
    return Detections([r[0] for r in rows], [NAMES.index(r[1]) for r in rows], [r[2] for r in rows], NAMES)


def test_nested_elements_survive_and_same_class_duplicates_go():
    window = ([100, 100, 700, 500], "window", 0.95)
    close = ([676, 104, 692, 120], "close", 0.9)
    button = ([600, 460, 680, 488], "button", 0.8)
    dup_window = ([102, 101, 701, 499], "window", 0.6)
    same_glyph_other_class = ([677, 104, 692, 120], "minimize", 0.3)
    dets = _dets([window, close, button, dup_window, same_glyph_other_class])
    kept = dets.nms(0.5).remove_duplicates(0.85)
    assert sorted(kept.labels) == ["button", "close", "window"]
    assert kept.scores.tolist() == sorted(kept.scores.tolist(), reverse=True)


def test_a_box_inside_a_better_box_of_its_class_goes_but_windows_nest():
    close = ([901, 112, 916, 128], "close", 0.95)
    loose_close = ([894, 106, 923, 136], "close", 0.64)  # the same glyph boxed loosely
    inner_button = ([610, 466, 640, 484], "button", 0.4)  # a piece of the button below
    button = ([600, 460, 680, 488], "button", 0.8)
    parent = ([100, 100, 700, 500], "window", 0.95)
    dialog = ([300, 200, 500, 400], "window", 0.9)  # a dialog inside its parent window
    minimize_in_close = ([903, 114, 914, 126], "minimize", 0.5)  # another class: not this filter's
    kept = _dets([close, loose_close, inner_button, button, parent, dialog, minimize_in_close]).drop_nested()
    assert sorted(zip(kept.labels, [round(float(s), 2) for s in kept.scores], strict=True)) == [
        ("button", 0.8), ("close", 0.95), ("minimize", 0.5), ("window", 0.9), ("window", 0.95)
    ]  # fmt: skip
    # only the classes asked for; a box half outside the other is no duplicate
    assert len(_dets([close, loose_close]).drop_nested(classes=["button"])) == 2
    assert len(_dets([([0, 0, 20, 20], "close", 0.9), ([10, 0, 30, 20], "close", 0.8)]).drop_nested()) == 2


def test_one_per_titlebar_gives_each_button_site_a_class_no_other_site_has():
    # a title bar: two sites both called maximize first; one has minimize as a strong runner-up
    rows = [
        ([100, 10, 116, 26], "maximize", 0.6),
        ([100, 10, 116, 26], "minimize", 0.35),
        ([124, 10, 140, 26], "maximize", 0.7),
        ([124, 10, 140, 26], "minimize", 0.2),
        ([148, 10, 164, 26], "close", 0.9),
        ([500, 10, 516, 26], "maximize", 0.8),  # another window's title bar, far away
        ([124, 200, 140, 216], "maximize", 0.5),  # below: another title bar
        ([0, 0, 40, 40], "folder", 0.9),  # not a title-bar class: untouched
    ]
    out = _dets(rows).one_per_titlebar()
    assert out.xyxy.tolist() == _dets(rows).xyxy.tolist() and out.labels == _dets(rows).labels
    assert np.allclose(out.scores, [0.35, 0.6, 0.7, 0.2, 0.9, 0.8, 0.5, 0.9])
    top = out.nms(0.5, class_agnostic=True).filter(classes=["close", "minimize", "maximize"])
    assert sorted(zip(top.labels, top.xyxy[:, 0].tolist(), strict=True)) == [
        ("close", 148.0), ("maximize", 124.0), ("maximize", 124.0), ("maximize", 500.0), ("minimize", 100.0)
    ]  # fmt: skip
    # a site whose runner-up is weaker than its own first choice elsewhere keeps its order
    agree = _dets([([100, 10, 116, 26], "minimize", 0.9), ([124, 10, 140, 26], "maximize", 0.8)])
    assert np.allclose(agree.one_per_titlebar().scores, [0.9, 0.8])
    assert len(_dets([]).one_per_titlebar()) == 0


def test_square_boxes_centres_title_bar_buttons_with_a_16_px_floor():
    dets = _dets([([100, 10, 110, 14], "minimize", 0.9), ([0, 0, 30, 20], "close", 0.8), ([0, 0, 30, 20], "button", 0.7)])
    mean = dets.square_boxes()
    assert mean.xyxy.tolist() == [[97.0, 4.0, 113.0, 20.0], [2.5, 0.0, 27.5, 22.5], [0.0, 0.0, 30.0, 20.0]]
    assert dets.square_boxes(side="max").xyxy[1].tolist() == [0.0, 0.0, 30.0, 25.0]  # clipped at 0
    with pytest.raises(ValueError, match="side"):
        dets.square_boxes(side="min")


def test_nms_with_box_voting_moves_kept_boxes_towards_their_neighbours():
    dets = _dets([([0, 0, 20, 20], "close", 0.9), ([2, 0, 22, 20], "close", 0.9), ([40, 0, 60, 20], "close", 0.5)])
    assert dets.nms(0.5).xyxy.tolist() == [[0, 0, 20, 20], [40, 0, 60, 20]]
    voted = dets.nms(0.5, vote_iou=0.5)
    assert voted.xyxy.tolist() == [[1, 0, 21, 20], [40, 0, 60, 20]] and voted.scores.tolist() == dets.nms(0.5).scores.tolist()
    assert dets.nms(0.5, vote_iou=0.95).xyxy.tolist() == dets.nms(0.5).xyxy.tolist()


def test_filter_by_class_and_score():
    dets = _dets([([0, 0, 10, 10], "folder", 0.9), ([20, 0, 30, 10], "file", 0.4), ([40, 0, 50, 10], "folder", 0.2)])
    assert dets.filter(classes=["folder"]).labels == ["folder", "folder"]
    assert dets.filter(min_score=0.3).labels == ["folder", "file"]
    with pytest.raises(ValueError, match="unknown class"):
        dets.filter(classes=["cat"])


def test_centers_exports_and_indexing():
    dets = _dets([([10, 20, 30, 60], "folder", 0.9)])
    assert dets.centers.tolist() == [[20.0, 40.0]]
    item = json.loads(dets.to_json())[0]
    assert item == {"class": "folder", "score": 0.9, "box": [10.0, 20.0, 30.0, 60.0], "center": [20.0, 40.0]}
    assert dets.to_coco_results(7)[0]["bbox"] == [10.0, 20.0, 20.0, 40.0]
    assert dets.to_via_regions()[0] == {
        "shape_attributes": {"name": "rect", "x": 10, "y": 20, "width": 20, "height": 40},
        "region_attributes": {"Icon": "folder"},
    }
    assert len(dets[np.array([], dtype=np.int64)]) == 0 and len(Detections.empty(NAMES)) == 0


def test_box_iou():
    assert box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10]])[0, 0] == pytest.approx(50 / 150)


def test_window_boxes_over_featureless_wallpaper_are_dropped():
    from PIL import Image, ImageDraw

    # a gradient wallpaper with one drawn window (title bar, border, a caption) on its right half
    ramp = np.linspace(40, 200, 400, dtype=np.float32)[:, None, None] * np.ones((1, 800, 3), np.float32)
    img = Image.fromarray(ramp.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.rectangle([450, 50, 780, 350], fill=(240, 240, 240), outline=(60, 60, 60))
    draw.rectangle([450, 50, 780, 80], fill=(50, 80, 160))
    draw.text((470, 58), "Documents - Files", fill=(255, 255, 255))
    wall_window = ([20, 20, 420, 380], "window", 0.9)
    real_window = ([450, 50, 781, 351], "window", 0.8)
    wall_folder = ([100, 100, 148, 148], "folder", 0.7)  # only windows are checked
    dets = _dets([wall_window, real_window, wall_folder])
    kept = dets.drop_featureless(np.asarray(img))
    assert kept.labels == ["window", "folder"]
    assert kept.xyxy[0].tolist() == real_window[0]
    # grey input gives the same; a threshold no box meets drops every window
    assert dets.drop_featureless(np.asarray(img.convert("L"))).labels == ["window", "folder"]
    assert dets.drop_featureless(np.asarray(img), min_edges=0.9).labels == ["folder"]
    # boxes partly outside the image are clipped, not an error
    outside = _dets([([700, 300, 900, 500], "window", 0.5)])
    assert len(outside.drop_featureless(np.asarray(img))) == 1
