"""VGG Image Annotator (VIA) 2.x JSON: the seed article's format.

Reads both a full VIA project (``_via_img_metadata`` ...) and the bare export the article shows
(``{"<filename><size>": {"filename", "size", "regions", "file_attributes"}}``); writes projects.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.jsonio import expect, number, read_json, write_json
from deskvision.errors import DataError

log = logging.getLogger("deskvision")

DEFAULT_ATTRIBUTE = "Icon"
TEXT_ATTRIBUTE = "text"  # optional region attribute: the text the element shows


def is_via(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if "_via_img_metadata" in obj:
        return True
    return bool(obj) and all(isinstance(v, dict) and "filename" in v and "regions" in v for v in obj.values())


def _region_list(entry: dict, where: str) -> list:
    regions = entry.get("regions", [])
    if isinstance(regions, dict):  # VIA 1.x: {"0": {...}, "1": {...}}
        regions = list(regions.values())
    expect(isinstance(regions, list), where, "'regions' must be a list")
    return regions


def _label_of(attrs: Any, key: str) -> str | None:
    value = attrs.get(key) if isinstance(attrs, dict) else None
    if isinstance(value, dict):  # checkbox attribute: {"folder": true}
        chosen = [k for k, v in value.items() if v]
        return chosen[0] if len(chosen) == 1 else None
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def detect_attribute(metadata: dict) -> str:
    """The region attribute that holds the class: "Icon" when used, else the only one used."""
    keys: Counter = Counter()
    for entry in metadata.values():
        if isinstance(entry, dict):
            for region in _region_list(entry, "regions"):
                if isinstance(region, dict) and isinstance(region.get("region_attributes"), dict):
                    keys.update(region["region_attributes"].keys())
    if not keys or DEFAULT_ATTRIBUTE in keys:
        return DEFAULT_ATTRIBUTE
    if len(keys) > 1:
        keys.pop(TEXT_ATTRIBUTE, None)  # the element's text, never its class
    if len(keys) == 1:
        return next(iter(keys))
    raise DataError(f"regions have several attributes ({', '.join(sorted(keys))}): choose the class one with --attribute")


def _box(shape: Any, where: str) -> tuple[list[float] | None, str | None]:
    """xyxy of a VIA shape, plus a warning when the shape was converted or skipped."""
    expect(isinstance(shape, dict), where, "'shape_attributes' must be an object")
    name = shape.get("name")
    if name == "rect":
        x, y = number(shape.get("x"), where + ".x"), number(shape.get("y"), where + ".y")
        w, h = number(shape.get("width"), where + ".width"), number(shape.get("height"), where + ".height")
        return [x, y, x + w, y + h], None
    if name in ("polygon", "polyline"):
        xs, ys = shape.get("all_points_x"), shape.get("all_points_y")
        expect(
            isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys) and xs,
            where,
            "polygon needs all_points_x/all_points_y",
        )
        xs = [number(v, where) for v in xs]
        ys = [number(v, where) for v in ys]
        return [min(xs), min(ys), max(xs), max(ys)], f"{where}: {name} replaced by its bounding box"
    if name == "circle":
        cx, cy, r = (number(shape.get(k), where + "." + k) for k in ("cx", "cy", "r"))
        return [cx - r, cy - r, cx + r, cy + r], f"{where}: circle replaced by its bounding box"
    if name == "ellipse":
        cx, cy, rx, ry = (number(shape.get(k), where + "." + k) for k in ("cx", "cy", "rx", "ry"))
        return [cx - rx, cy - ry, cx + rx, cy + ry], f"{where}: ellipse replaced by its bounding box"
    return None, f"{where}: shape {name!r} has no area, skipped"


def read_via(path: str | Path, root: str | Path | None = None, attribute: str | None = None) -> AnnotationSet:
    """Read a VIA project or export. Images are looked up in `root`, else in the project's
    default path, else beside the JSON file."""
    path = Path(path)
    obj = read_json(path)
    expect(is_via(obj), str(path), "not a VIA annotation file (no _via_img_metadata, and entries lack filename/regions)")
    metadata = obj.get("_via_img_metadata", obj)
    expect(isinstance(metadata, dict), str(path), "_via_img_metadata must be an object")
    if root is None:
        root = path.parent
        default = (
            (obj.get("_via_settings") or {}).get("core", {}).get("default_filepath")
            if isinstance(obj.get("_via_settings"), dict)
            else None
        )
        if (
            isinstance(default, str)
            and default
            and not default.startswith(("http:", "https:"))
            and (path.parent / default).is_dir()
        ):
            root = path.parent / default
    attribute = attribute or detect_attribute(metadata)
    order = obj.get("_via_image_id_list") if isinstance(obj.get("_via_image_id_list"), list) else list(metadata)
    images, conv_warnings, unlabeled = [], [], 0
    for key in order:
        entry = metadata.get(key)
        where = f"{path.name}[{key!r:.60}]"
        expect(isinstance(entry, dict), where, "image entry must be an object")
        filename = entry.get("filename")
        expect(isinstance(filename, str) and filename != "", where, "missing 'filename'")
        boxes, labels, texts = [], [], []
        for i, region in enumerate(_region_list(entry, where)):
            rwhere = f"{where}.regions[{i}]"
            expect(isinstance(region, dict), rwhere, "region must be an object")
            box, warning = _box(region.get("shape_attributes"), rwhere)
            if warning:
                conv_warnings.append(warning)
            if box is None:
                continue
            label = _label_of(region.get("region_attributes"), attribute)
            if label is None:
                unlabeled += 1
                continue
            boxes.append(box)
            labels.append(label)
            text = region["region_attributes"].get(TEXT_ATTRIBUTE)
            texts.append(text if isinstance(text, str) else None)
        attrs = entry.get("file_attributes") if isinstance(entry.get("file_attributes"), dict) else {}
        attrs = {str(k): str(v) for k, v in attrs.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
        images.append(
            ImageAnnotation(filename, np.array(boxes, np.float32).reshape(-1, 4), labels, attributes=attrs, texts=texts)
        )
    for w in conv_warnings[:20]:
        log.warning(w)
    if len(conv_warnings) > 20:
        log.warning(f"... and {len(conv_warnings) - 20} more shape conversions")
    if unlabeled:
        log.warning(f"{path.name}: {unlabeled} region(s) without a {attribute!r} attribute skipped")
    return AnnotationSet(images, Path(root), str(path))


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def to_via(annotations: AnnotationSet, attribute: str = DEFAULT_ATTRIBUTE, default_filepath: str = "") -> dict:
    """The VIA 2.x project dict; keys are filename + file size, as VIA makes them."""
    metadata: dict[str, dict] = {}
    file_attr_names: set[str] = set()
    for im in annotations.images:
        size = _file_size(annotations.path(im))
        regions = []
        for (x0, y0, x1, y1), label, text in zip(im.boxes.tolist(), im.labels, im.texts, strict=True):
            x, y = int(round(x0)), int(round(y0))
            shape = {"name": "rect", "x": x, "y": y, "width": int(round(x1)) - x, "height": int(round(y1)) - y}
            region_attributes = {attribute: label} if text is None else {attribute: label, TEXT_ATTRIBUTE: text}
            regions.append({"shape_attributes": shape, "region_attributes": region_attributes})
        file_attr_names.update(im.attributes)
        metadata[f"{im.filename}{size}"] = {
            "filename": im.filename,
            "size": size,
            "regions": regions,
            "file_attributes": dict(im.attributes),
        }
    classes = annotations.class_names()
    return {
        "_via_settings": {
            "ui": {
                "annotation_editor_height": 25,
                "annotation_editor_fontsize": 0.8,
                "leftsidebar_width": 18,
                "image_grid": {
                    "img_height": 80,
                    "rshape_fill": "none",
                    "rshape_fill_opacity": 0.3,
                    "rshape_stroke": "yellow",
                    "rshape_stroke_width": 2,
                    "show_region_shape": True,
                    "show_image_policy": "all",
                },
                "image": {
                    "region_label": attribute,
                    "region_color": attribute,
                    "region_label_font": "10px Sans",
                    "on_image_annotation_editor_placement": "NEAR_REGION",
                },
            },
            "core": {"buffer_size": 18, "filepath": {}, "default_filepath": default_filepath},
            "project": {"name": "deskvision"},
        },
        "_via_img_metadata": metadata,
        "_via_attributes": {
            "region": {
                attribute: {
                    "type": "dropdown",
                    "description": "desktop element class",
                    "options": {c: "" for c in classes},
                    "default_options": {},
                },
                TEXT_ATTRIBUTE: {"type": "text", "description": "text the element shows", "default_value": ""},
            },
            "file": {name: {"type": "text", "description": "", "default_value": ""} for name in sorted(file_attr_names)},
        },
        "_via_data_format_version": "2.0.10",
        "_via_image_id_list": list(metadata),
    }


def write_via(annotations: AnnotationSet, path: str | Path, attribute: str = DEFAULT_ATTRIBUTE) -> None:
    """Write a VIA project; image filenames are made relative to the JSON file's folder."""
    path = Path(path)
    rel = _relative_root(annotations, path.parent)
    moved = AnnotationSet([_rebase(im, rel) for im in annotations.images], path.parent, annotations.source)
    write_json(path, to_via(moved, attribute))


def _relative_root(annotations: AnnotationSet, folder: Path) -> str:
    return os.path.relpath(annotations.root.resolve(), folder.resolve())


def _rebase(im: ImageAnnotation, rel: str) -> ImageAnnotation:
    if rel == "." or Path(im.filename).is_absolute():
        return im
    return replace(im, filename=os.path.normpath(Path(rel) / im.filename))
