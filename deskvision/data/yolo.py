"""YOLO txt folders: ``images/``, ``labels/`` (one ``class cx cy w h`` line per box, normalised)
and ``classes.txt`` (or ``data.yaml`` with ``names``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.images import image_size
from deskvision.data.jsonio import write_atomic
from deskvision.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def is_yolo(path: Path) -> bool:
    return path.is_dir() and (path / "labels").is_dir() and ((path / "classes.txt").is_file() or (path / "data.yaml").is_file())


def _class_names(folder: Path) -> list[str]:
    if (folder / "classes.txt").is_file():
        return [line.strip() for line in (folder / "classes.txt").read_text().splitlines() if line.strip()]
    import yaml

    try:
        data = yaml.safe_load((folder / "data.yaml").read_text())
    except yaml.YAMLError as exc:
        raise DataError(f"{folder / 'data.yaml'}: not valid YAML ({exc})") from None
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list):
        raise DataError(f"{folder / 'data.yaml'}: needs a 'names' list")
    return [str(n) for n in names]


def read_yolo(folder: str | Path) -> AnnotationSet:
    folder = Path(folder)
    if not is_yolo(folder):
        raise DataError(f"{folder}: not a YOLO folder (needs labels/ and classes.txt or data.yaml)")
    names = _class_names(folder)
    image_dir = folder / "images"
    images = []
    for img_path in sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = img_path.relative_to(image_dir)
        label_path = (folder / "labels" / rel).with_suffix(".txt")
        width, height = image_size(img_path)
        boxes, labels = [], []
        if label_path.is_file():
            for n, line in enumerate(label_path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                where = f"{label_path}:{n}"
                parts = line.split()
                try:
                    cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:5])
                except (ValueError, IndexError):
                    raise DataError(f"{where}: expected 'class cx cy w h', got {line.strip()!r:.60}") from None
                if not 0 <= cls < len(names):
                    raise DataError(f"{where}: class {cls} not in the {len(names)} names")
                boxes.append([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
                labels.append(names[cls])
        images.append(ImageAnnotation(str(rel), np.array(boxes, np.float32).reshape(-1, 4), labels, width, height))
    if not images:
        raise DataError(f"{image_dir}: no images found")
    return AnnotationSet(images, image_dir, str(folder))


def write_yolo(annotations: AnnotationSet, folder: str | Path, copy_images: bool = True) -> None:
    """Write labels (and link or copy the images) under `folder`."""
    folder = Path(folder)
    annotations.fill_sizes()
    classes = annotations.class_names()
    index = {c: i for i, c in enumerate(classes)}
    for im in annotations.images:
        # Flatten the path so that a hostile filename ("../../x") cannot escape the output folder.
        rel = Path(*[p for p in Path(im.filename).parts if p not in ("..", "/", ".")])
        lines = []
        for (x0, y0, x1, y1), label in zip(im.boxes.tolist(), im.labels, strict=True):
            lines.append(
                f"{index[label]} {(x0 + x1) / 2 / im.width:.6f} {(y0 + y1) / 2 / im.height:.6f} "
                f"{(x1 - x0) / im.width:.6f} {(y1 - y0) / im.height:.6f}"
            )
        write_atomic((folder / "labels" / rel).with_suffix(".txt"), "\n".join(lines) + ("\n" if lines else ""))
        if copy_images:
            dst = folder / "images" / rel
            src = annotations.path(im)
            if dst.resolve() != src.resolve():
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.unlink(missing_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
    write_atomic(folder / "classes.txt", "\n".join(classes) + "\n")
    write_atomic(folder / "data.yaml", f"path: .\ntrain: images\nval: images\nnames: {classes!r}\n")
