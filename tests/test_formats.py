"""VIA (the seed's format), COCO and YOLO: reading, writing, round trips and bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deskvision.data import load_annotations, save_annotations
from deskvision.data.annotations import split
from deskvision.errors import DataError

SEED_EXPORT = {
    "0061_screenshot.png708446": {
        "file_attributes": {"distribution": "ubuntu"},
        "filename": "0061_screenshot.png",
        "regions": [
            {
                "shape_attributes": {"name": "rect", "x": 111, "y": 36, "width": 47, "height": 42},
                "region_attributes": {"Icon": "folder"},
            },
            {
                "shape_attributes": {"name": "rect", "x": 14, "y": 109, "width": 45, "height": 45},
                "region_attributes": {"Icon": "folder"},
            },
        ],
    }
}


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def _image(path: Path, size=(320, 200)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (40, 40, 40)).save(path)


def test_reads_the_seed_article_export(tmp_path):
    _image(tmp_path / "0061_screenshot.png")
    ann = load_annotations(_write(tmp_path / "via.json", SEED_EXPORT))
    ann.validate()
    (im,) = ann.images
    assert im.labels == ["folder", "folder"]
    assert im.boxes.tolist() == [[111, 36, 158, 78], [14, 109, 59, 154]]
    assert im.attributes == {"distribution": "ubuntu"}
    assert (im.width, im.height) == (320, 200)


def test_via_project_round_trip_keeps_boxes_labels_and_attributes(glyphs, tmp_path):
    ann = load_annotations(glyphs)
    save_annotations(ann, tmp_path / "copy.json", "via")
    data = json.loads((tmp_path / "copy.json").read_text())
    assert set(data) >= {"_via_settings", "_via_img_metadata", "_via_attributes", "_via_image_id_list"}
    key = data["_via_image_id_list"][0]
    entry = data["_via_img_metadata"][key]
    assert key == entry["filename"] + str(entry["size"])  # VIA's own key: filename + file size
    assert entry["regions"][0]["shape_attributes"]["name"] == "rect"
    assert "Icon" in entry["regions"][0]["region_attributes"]
    again = load_annotations(tmp_path / "copy.json")
    assert [im.labels for im in again.images] == [im.labels for im in ann.images]
    assert all(np.array_equal(a.boxes, b.boxes) for a, b in zip(again.images, ann.images, strict=True))
    assert again.images[0].attributes["look"] in ("dark", "light")
    assert again.path(again.images[0]).is_file()


@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_round_trip_through_other_formats(glyphs, tmp_path, fmt):
    ann = load_annotations(glyphs)
    ann.validate()
    dst = tmp_path / ("out.json" if fmt == "coco" else "yolo")
    save_annotations(ann, dst, fmt)
    back = load_annotations(dst)
    assert len(back) == len(ann)
    for a, b in zip(
        sorted(ann.images, key=lambda i: i.filename), sorted(back.images, key=lambda i: Path(i.filename).name), strict=True
    ):
        assert a.labels == b.labels
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.01)
        assert back.path(b).is_file()


def test_via_to_coco_to_yolo_to_via_chain(glyphs, tmp_path):
    ann = load_annotations(glyphs)
    save_annotations(ann, tmp_path / "a.json", "coco")
    save_annotations(load_annotations(tmp_path / "a.json"), tmp_path / "y", "yolo")
    save_annotations(load_annotations(tmp_path / "y"), tmp_path / "y" / "via.json", "via")
    final = load_annotations(tmp_path / "y" / "via.json")
    assert sum(len(i.labels) for i in final.images) == sum(len(i.labels) for i in ann.images)
    assert final.path(final.images[0]).is_file()


def test_attribute_detection_and_choice(tmp_path):
    _image(tmp_path / "a.png")
    regions = [
        {
            "shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 10, "height": 10},
            "region_attributes": {"type": "folder", "note": "x"},
        }
    ]
    path = _write(tmp_path / "v.json", {"a.png1": {"filename": "a.png", "size": 1, "regions": regions, "file_attributes": {}}})
    with pytest.raises(DataError, match="--attribute"):
        load_annotations(path)
    assert load_annotations(path, attribute="type").images[0].labels == ["folder"]
    regions[0]["region_attributes"] = {"kind": "file"}  # a single attribute is found by itself
    assert load_annotations(_write(path, {"a.png1": {"filename": "a.png", "regions": regions}})).images[0].labels == ["file"]


def test_polygons_and_circles_become_boxes_with_a_warning(tmp_path, caplog):
    _image(tmp_path / "a.png")
    regions = [
        {
            "shape_attributes": {"name": "polygon", "all_points_x": [10, 30, 20], "all_points_y": [5, 5, 25]},
            "region_attributes": {"Icon": "trash"},
        },
        {"shape_attributes": {"name": "circle", "cx": 50, "cy": 50, "r": 8}, "region_attributes": {"Icon": "close"}},
        {"shape_attributes": {"name": "point", "cx": 5, "cy": 5}, "region_attributes": {"Icon": "close"}},
    ]
    with caplog.at_level(logging.WARNING, logger="deskvision"):
        ann = load_annotations(_write(tmp_path / "v.json", {"k": {"filename": "a.png", "regions": regions}}))
    assert ann.images[0].boxes.tolist() == [[10, 5, 30, 25], [42, 42, 58, 58]]
    assert "polygon replaced by its bounding box" in caplog.text and "circle" in caplog.text and "point" in caplog.text


def test_boxes_outside_are_clipped_and_empty_boxes_dropped(tmp_path):
    _image(tmp_path / "a.png", (100, 80))
    regions = [
        {
            "shape_attributes": {"name": "rect", "x": 90, "y": -5, "width": 30, "height": 20},
            "region_attributes": {"Icon": "file"},
        },
        {"shape_attributes": {"name": "rect", "x": 10, "y": 10, "width": 0, "height": 20}, "region_attributes": {"Icon": "file"}},
        {
            "shape_attributes": {"name": "rect", "x": 10, "y": 10, "width": -4, "height": 20},
            "region_attributes": {"Icon": "file"},
        },
    ]
    ann = load_annotations(_write(tmp_path / "v.json", {"k": {"filename": "a.png", "regions": regions}}))
    warnings = ann.validate()
    assert ann.images[0].boxes.tolist() == [[90, 0, 100, 15]]
    assert any("clipped 1" in w for w in warnings) and any("dropped 2" in w for w in warnings)


def test_missing_images_error_or_skip(tmp_path):
    _image(tmp_path / "a.png")
    obj = {"k1": {"filename": "a.png", "regions": []}, "k2": {"filename": "gone.png", "regions": []}}
    ann = load_annotations(_write(tmp_path / "v.json", obj))
    with pytest.raises(DataError, match="1 image\\(s\\) not found.*gone.png"):
        ann.validate()
    ann = load_annotations(tmp_path / "v.json")
    ann.validate(missing="skip")
    assert [im.filename for im in ann.images] == ["a.png"]


def test_unknown_labels_error_or_drop_and_aliases(tmp_path):
    _image(tmp_path / "a.png")
    regions = [
        {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 9, "height": 9}, "region_attributes": {"Icon": name}}
        for name in ("Folder", "close button", "firefox")
    ]
    path = _write(tmp_path / "v.json", {"k": {"filename": "a.png", "regions": regions}})
    with pytest.raises(DataError, match="unknown label.*'firefox'"):
        load_annotations(path).map_labels(("folder", "close"))
    ann = load_annotations(path)
    ann.map_labels(("folder", "close"), unknown="drop")
    assert ann.images[0].labels == ["folder", "close"]  # case and desker's "close button" understood
    assert len(ann.images[0].boxes) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "neither VIA nor COCO"),
        ('{"a": {"filename": "x.png"}}', "neither VIA nor COCO"),
        ("[" * 100000 + "]" * 100000, "nested too deeply|neither VIA nor COCO"),
        (
            '{"k": {"filename": "a.png", "regions": [{"shape_attributes": '
            '{"name": "rect", "x": "1", "y": 0, "width": 3, "height": 3}, '
            '"region_attributes": {"Icon": "file"}}]}}',
            "expected a number",
        ),
        ('{"k": {"filename": "a.png", "regions": "oops"}}', "'regions' must be a list"),
        ('{"k": {"filename": 5, "regions": []}}', "missing 'filename'"),
        (
            '{"images": [{"id": 1, "file_name": "a.png"}], '
            '"annotations": [{"image_id": 2, "category_id": 1, "bbox": [0,0,1,1]}], '
            '"categories": [{"id": 1, "name": "file"}]}',
            "unknown image_id",
        ),
        (
            '{"k": {"filename": "a.png", "regions": [{"shape_attributes": '
            '{"name": "rect", "x": NaN, "y": 0, "width": 3, "height": 3}, '
            '"region_attributes": {"Icon": "file"}}]}}',
            "not a finite number",
        ),
    ],
)
def test_malformed_annotation_files_give_clear_errors(tmp_path, content, message):
    path = _write(tmp_path / "bad.json", content)
    with pytest.raises(DataError, match=message):
        load_annotations(path, fmt=None)


def test_yolo_bad_lines(tmp_path):
    _image(tmp_path / "y" / "images" / "a.png")
    (tmp_path / "y" / "labels").mkdir()
    (tmp_path / "y" / "classes.txt").write_text("folder\n")
    (tmp_path / "y" / "labels" / "a.txt").write_text("3 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match="class 3 not in the 1 names"):
        load_annotations(tmp_path / "y")
    (tmp_path / "y" / "labels" / "a.txt").write_text("0 half 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match="expected 'class cx cy w h'"):
        load_annotations(tmp_path / "y")


def test_yolo_writer_cannot_escape_its_folder(tmp_path):
    _image(tmp_path / "imgs" / "a.png")
    obj = {
        "k": {
            "filename": "../imgs/a.png",
            "regions": [
                {
                    "shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 9, "height": 9},
                    "region_attributes": {"Icon": "file"},
                }
            ],
        }
    }
    (tmp_path / "ann").mkdir()
    ann = load_annotations(_write(tmp_path / "ann" / "v.json", obj))
    save_annotations(ann, tmp_path / "out" / "y", "yolo")
    assert (tmp_path / "out" / "y" / "labels" / "imgs" / "a.txt").is_file()
    assert not (tmp_path / "out" / "imgs").exists()


def test_split_by_image_and_by_look(glyphs):
    ann = load_annotations(glyphs)
    train, val = split(ann, 0.25, seed=1)
    assert len(train) + len(val) == len(ann) and len(val) == 2
    assert not {i.filename for i in train.images} & {i.filename for i in val.images}
    train, val = split(ann, 0.5, by="look", seed=1)
    assert {i.attributes["look"] for i in train.images}.isdisjoint({i.attributes["look"] for i in val.images})
    with pytest.raises(DataError, match="no file attribute 'os'"):
        split(ann, 0.5, by="os")


def test_element_text_round_trips_through_via_and_coco(tmp_path):
    _image(tmp_path / "a.png")
    regions = [
        {
            "shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 9, "height": 9},
            "region_attributes": {"Icon": "folder", "text": "Documents"},
        },
        {"shape_attributes": {"name": "rect", "x": 20, "y": 1, "width": 9, "height": 9}, "region_attributes": {"Icon": "close"}},
    ]
    ann = load_annotations(_write(tmp_path / "v.json", {"k": {"filename": "a.png", "regions": regions}}))
    assert ann.images[0].texts == ["Documents", None]
    save_annotations(ann, tmp_path / "c.json", "coco")
    back = load_annotations(tmp_path / "c.json")
    assert back.images[0].texts == ["Documents", None]
    save_annotations(back, tmp_path / "v2.json", "via")
    again = load_annotations(tmp_path / "v2.json")
    assert again.images[0].texts == ["Documents", None] and again.images[0].labels == ["folder", "close"]
    again.map_labels(("close",), unknown="drop")
    assert again.images[0].texts == [None]  # texts follow their boxes when boxes are dropped
