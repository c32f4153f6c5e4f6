"""COCO detection JSON (images, annotations with xywh boxes, categories)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.jsonio import expect, number, read_json, write_json


def is_coco(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("images"), list) and "annotations" in obj and "categories" in obj


def read_coco(path: str | Path, root: str | Path | None = None) -> AnnotationSet:
    path = Path(path)
    obj = read_json(path)
    expect(is_coco(obj), str(path), "not a COCO detection file (needs images, annotations, categories)")
    expect(
        isinstance(obj["categories"], list) and isinstance(obj["annotations"], list),
        str(path),
        "categories and annotations must be lists",
    )
    names: dict[int, str] = {}
    for i, cat in enumerate(obj["categories"]):
        where = f"{path.name}.categories[{i}]"
        expect(
            isinstance(cat, dict) and isinstance(cat.get("id"), int) and isinstance(cat.get("name"), str),
            where,
            "needs an integer id and a name",
        )
        names[cat["id"]] = cat["name"]
    images: dict[int, ImageAnnotation] = {}
    for i, entry in enumerate(obj["images"]):
        where = f"{path.name}.images[{i}]"
        expect(
            isinstance(entry, dict) and isinstance(entry.get("id"), int) and isinstance(entry.get("file_name"), str),
            where,
            "needs an integer id and a file_name",
        )
        w, h = entry.get("width"), entry.get("height")
        attrs = entry.get("attributes") if isinstance(entry.get("attributes"), dict) else {}
        images[entry["id"]] = ImageAnnotation(
            entry["file_name"],
            width=int(w) if isinstance(w, int) and w > 0 else None,
            height=int(h) if isinstance(h, int) and h > 0 else None,
            attributes={str(k): str(v) for k, v in attrs.items()},
        )
    boxes: dict[int, list] = {k: [] for k in images}
    for i, ann in enumerate(obj["annotations"]):
        where = f"{path.name}.annotations[{i}]"
        expect(isinstance(ann, dict), where, "must be an object")
        expect(ann.get("image_id") in images, where, f"unknown image_id {ann.get('image_id')!r}")
        expect(ann.get("category_id") in names, where, f"unknown category_id {ann.get('category_id')!r}")
        bbox = ann.get("bbox")
        expect(isinstance(bbox, list) and len(bbox) == 4, where, "bbox must be [x, y, width, height]")
        x, y, w, h = (number(v, where + ".bbox") for v in bbox)
        text = ann.get("text")
        boxes[ann["image_id"]].append(([x, y, x + w, y + h], names[ann["category_id"]], text if isinstance(text, str) else None))
    for image_id, im in images.items():
        im.boxes = np.array([b for b, _, _ in boxes[image_id]], np.float32).reshape(-1, 4)
        im.labels = [lab for _, lab, _ in boxes[image_id]]
        im.texts = [t for _, _, t in boxes[image_id]]
    return AnnotationSet(list(images.values()), Path(root) if root else path.parent, str(path))


def to_coco(annotations: AnnotationSet, classes: list[str] | None = None) -> dict:
    """COCO dict; category ids are 1-based positions in `classes` (all labels present by default)."""
    annotations.fill_sizes()
    classes = classes or annotations.class_names()
    cat_id = {name: i + 1 for i, name in enumerate(classes)}
    images, anns = [], []
    for image_id, im in enumerate(annotations.images, start=1):
        entry = {"id": image_id, "file_name": im.filename, "width": im.width, "height": im.height}
        if im.attributes:
            entry["attributes"] = dict(im.attributes)
        images.append(entry)
        for (x0, y0, x1, y1), label, text in zip(im.boxes.tolist(), im.labels, im.texts, strict=True):
            w, h = x1 - x0, y1 - y0
            ann = {
                "id": len(anns) + 1,
                "image_id": image_id,
                "category_id": cat_id[label],
                "bbox": [x0, y0, w, h],
                "area": w * h,
                "iscrowd": 0,
            }
            if text is not None:
                ann["text"] = text
            anns.append(ann)
    categories = [{"id": i, "name": n, "supercategory": "desktop"} for n, i in cat_id.items()]
    return {"info": {"description": "deskvision"}, "images": images, "annotations": anns, "categories": categories}


def write_coco(annotations: AnnotationSet, path: str | Path) -> None:
    path = Path(path)
    rel = os.path.relpath(annotations.root.resolve(), path.parent.resolve())
    data = to_coco(annotations)
    if rel != ".":
        for entry in data["images"]:
            if not os.path.isabs(entry["file_name"]):
                entry["file_name"] = os.path.normpath(os.path.join(rel, entry["file_name"]))
    write_json(path, data)
