"""Read and write any supported annotation format, detected from the path and content."""

from __future__ import annotations

from pathlib import Path

from deskvision.data.annotations import AnnotationSet
from deskvision.data.coco import is_coco, read_coco, write_coco
from deskvision.data.jsonio import read_json
from deskvision.data.via import DEFAULT_ATTRIBUTE, is_via, read_via, write_via
from deskvision.data.yolo import is_yolo, read_yolo, write_yolo
from deskvision.errors import DataError

FORMATS = ("via", "coco", "yolo")


def detect_format(path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    if path.is_dir():
        if is_yolo(path):
            return "yolo"
        jsons = sorted(path.glob("*.json"))
        if len(jsons) == 1:
            return detect_format(jsons[0])
        raise DataError(f"{path}: a folder must be a YOLO dataset or hold exactly one annotation JSON file")
    obj = read_json(path)
    if is_coco(obj):
        return "coco"
    if is_via(obj):
        return "via"
    raise DataError(f"{path}: neither VIA nor COCO JSON")


def load_annotations(
    path: str | Path, *, fmt: str | None = None, images: str | Path | None = None, attribute: str | None = None
) -> AnnotationSet:
    """Load VIA/COCO JSON or a YOLO folder. `images` overrides the image folder."""
    path = Path(path)
    if path.is_dir() and not is_yolo(path) and len(list(path.glob("*.json"))) == 1:
        path = next(path.glob("*.json"))
    fmt = fmt or detect_format(path)
    if fmt == "via":
        return read_via(path, images, attribute)
    if fmt == "coco":
        return read_coco(path, images)
    if fmt == "yolo":
        return read_yolo(path)
    raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def save_annotations(annotations: AnnotationSet, path: str | Path, fmt: str, *, attribute: str = DEFAULT_ATTRIBUTE) -> None:
    if fmt == "via":
        write_via(annotations, path, attribute)
    elif fmt == "coco":
        write_coco(annotations, path)
    elif fmt == "yolo":
        write_yolo(annotations, path)
    else:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
