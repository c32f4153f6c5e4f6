"""A generated dataset on disk: ``images/NAME.png`` plus ``labels/NAME.json`` per screenshot
(the label file is written last, so its presence marks the image as done: generators resume
by skipping names whose label file exists), assembled into VIA and COCO files at the end."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.coco import write_coco
from deskvision.data.jsonio import write_atomic
from deskvision.data.via import write_via
from deskvision.errors import DataError


def prepare(out: Path) -> None:
    try:
        (out / "images").mkdir(parents=True, exist_ok=True)
        (out / "labels").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot write the dataset under {out}: {e.strerror or e}") from e


def is_done(out: Path, name: str) -> bool:
    return (out / "labels" / f"{name}.json").is_file()


def write_record(
    out: Path,
    name: str,
    img: Image.Image,
    boxes: Sequence[Sequence[float]] | np.ndarray,
    labels: Sequence[str],
    texts: Sequence[str | None],
    attributes: dict[str, str],
) -> None:
    """Save one screenshot and its labels (boxes xyxy in pixels)."""
    img.save(out / "images" / f"{name}.png", compress_level=1, compress_type=3)  # zlib Z_RLE: fast, small for screens
    record = {
        "filename": f"{name}.png",
        "width": img.width,
        "height": img.height,
        "boxes": np.asarray(boxes, dtype=float).reshape(-1, 4).tolist(),
        "labels": list(labels),
        "texts": list(texts),
        "attributes": attributes,
    }
    write_atomic(out / "labels" / f"{name}.json", json.dumps(record))


def collect(out: Path, names: Sequence[str]) -> AnnotationSet:
    """Assemble the label files of `names` (those that exist) into annotations.json (VIA) and coco.json."""
    records = []
    for name in names:
        path = out / "labels" / f"{name}.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        records.append(
            ImageAnnotation(
                r["filename"],
                np.array(r["boxes"], np.float32).reshape(-1, 4),
                r["labels"],
                r["width"],
                r["height"],
                r["attributes"],
                r.get("texts") or [],
            )
        )
    ann = AnnotationSet(records, out / "images", str(out))
    write_via(ann, out / "annotations.json")
    write_coco(ann, out / "coco.json")
    return ann


def summary(ann: AnnotationSet) -> tuple[Counter, Counter]:
    """(boxes per class, images per look)."""
    return ann.label_counts(), Counter(im.attributes.get("look", "-") for im in ann.images)
