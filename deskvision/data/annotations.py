"""In-memory annotations, independent of the file format, and their validation."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from deskvision.classes import canonical_name
from deskvision.data.images import image_size
from deskvision.errors import DataError

log = logging.getLogger("deskvision")


@dataclass
class ImageAnnotation:
    """One screenshot: its file (relative to the set's root), size, boxes (xyxy), labels, and
    optionally the text each element shows (a file name, a button caption), for OCR."""

    filename: str
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    labels: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    texts: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if not self.texts:
            self.texts = [None] * len(self.labels)
        if not len(self.boxes) == len(self.labels) == len(self.texts):
            raise ValueError("boxes, labels and texts differ in length")

    def keep(self, mask: Sequence[bool] | np.ndarray) -> None:
        """Keep only the boxes (with their labels and texts) where `mask` is true."""
        mask = np.asarray(mask, dtype=bool).reshape(-1)
        self.boxes = self.boxes[mask]
        self.labels = [lab for lab, k in zip(self.labels, mask, strict=True) if k]
        self.texts = [t for t, k in zip(self.texts, mask, strict=True) if k]


@dataclass
class AnnotationSet:
    """Annotated screenshots whose filenames are relative to `root`."""

    images: list[ImageAnnotation]
    root: Path
    source: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def label_counts(self) -> Counter:
        return Counter(label for im in self.images for label in im.labels)

    def class_names(self) -> list[str]:
        """Labels present, in canonical order for known classes, then alphabetical."""
        from deskvision.classes import CLASSES

        present = set(self.label_counts())
        return [c for c in CLASSES if c in present] + sorted(present - set(CLASSES))

    def path(self, image: ImageAnnotation) -> Path:
        return self.root / image.filename

    def subset(self, indices: Sequence[int]) -> AnnotationSet:
        return AnnotationSet([self.images[i] for i in indices], self.root, self.source)

    def fill_sizes(self) -> None:
        """Read width/height from the image headers where the format did not store them."""
        for im in self.images:
            if im.width is None or im.height is None:
                im.width, im.height = image_size(self.path(im))

    def validate(self, *, missing: str = "error") -> list[str]:
        """Check images and boxes; fix what can be fixed, with a warning for each fix.

        - missing images: an error (``missing="error"``) or dropped with a warning (``"skip"``);
        - boxes outside the image are clipped; empty boxes (zero or negative size) are dropped.
        Returns the warnings (also logged).
        """
        warnings: list[str] = []
        absent = [im.filename for im in self.images if not self.path(im).is_file()]
        if absent:
            msg = (
                f"{len(absent)} image(s) not found under {self.root}: {', '.join(absent[:3])}{' ...' if len(absent) > 3 else ''}"
            )
            if missing == "error":
                raise DataError(msg)
            warnings.append(msg + " (skipped)")
            self.images = [im for im in self.images if im.filename not in set(absent)]
        self.fill_sizes()
        clipped = dropped = 0
        for im in self.images:
            b = im.boxes.copy()
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, im.width)
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, im.height)
            clipped += int((np.abs(b - im.boxes) > 1e-3).any(axis=1).sum())
            ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
            if not ok.all():
                dropped += int((~ok).sum())
                warnings.append(
                    f"{im.filename}: dropped {int((~ok).sum())} box(es) with zero or negative size (or fully outside the image)"
                )
            im.boxes = b
            im.keep(ok)
        if clipped:
            warnings.append(f"clipped {clipped} box(es) that extended outside their image")
        for w in warnings:
            log.warning(w)
        return warnings

    def map_labels(self, classes: Sequence[str], *, unknown: str = "error") -> list[str]:
        """Rename labels to `classes` (case, spaces and known aliases such as desker's
        "close button" are understood). Unknown labels are an error, or dropped (``unknown="drop"``)."""
        lookup = {c.lower(): c for c in classes}
        for c in classes:
            lookup.setdefault(canonical_name(c), c)
        mapped = [[lookup.get(lab.strip().lower()) or lookup.get(canonical_name(lab)) for lab in im.labels] for im in self.images]
        missing = Counter(
            lab for im, m in zip(self.images, mapped, strict=True) for lab, k in zip(im.labels, m, strict=True) if k is None
        )
        desc = ", ".join(f"{name!r} ({n})" for name, n in missing.most_common(8))
        if missing and unknown == "error":  # checked before anything changes
            raise DataError(
                f"unknown label(s) {desc}; expected one of: {', '.join(classes)} "
                "(use --classes to train on other classes, or --drop-unknown)"
            )
        for im, m in zip(self.images, mapped, strict=True):
            im.keep([k is not None for k in m])
            im.labels = [k for k in m if k is not None]
        if not missing:
            return []
        msg = f"dropped boxes with unknown label(s): {desc}"
        log.warning(msg)
        return [msg]


def split(
    annotations: AnnotationSet, val_fraction: float = 0.2, by: str | None = None, seed: int = 0
) -> tuple[AnnotationSet, AnnotationSet]:
    """Split into (train, val) by image, or by a file attribute (e.g. ``look``) so that
    every value of that attribute falls wholly on one side."""
    if not 0 < val_fraction < 1:
        raise DataError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    rng = random.Random(seed)
    n = len(annotations)
    if by is None:
        order = list(range(n))
        rng.shuffle(order)
        n_val = max(1, round(n * val_fraction)) if n > 1 else 0
        return annotations.subset(sorted(order[n_val:])), annotations.subset(sorted(order[:n_val]))
    groups: dict[str, list[int]] = {}
    for i, im in enumerate(annotations.images):
        if by not in im.attributes:
            raise DataError(f"{im.filename}: has no file attribute {by!r} to split by")
        groups.setdefault(str(im.attributes[by]), []).append(i)
    if len(groups) < 2:
        raise DataError(f"cannot split by {by!r}: all images share the value {next(iter(groups), '')!r}")
    keys = sorted(groups)
    rng.shuffle(keys)
    val: list[int] = []
    for key in keys[:-1]:  # at least one group stays in training
        if len(val) >= val_fraction * n:
            break
        val.extend(groups[key])
    train = sorted(set(range(n)) - set(val))
    return annotations.subset(train), annotations.subset(sorted(val))


def hold_out(annotations: AnnotationSet, by: str, values: Sequence[str]) -> tuple[AnnotationSet, AnnotationSet]:
    """Split into (rest, held out): the images whose file attribute `by` is one of `values`."""
    found = {str(im.attributes.get(by)) for im in annotations.images}
    missing = sorted(set(values) - found)
    if missing:
        raise DataError(f"no image has {by} = {', '.join(missing)} (values found: {', '.join(sorted(found))})")
    held = [i for i, im in enumerate(annotations.images) if str(im.attributes.get(by)) in set(values)]
    rest = sorted(set(range(len(annotations))) - set(held))
    return annotations.subset(rest), annotations.subset(held)


def merge(sets: Sequence[AnnotationSet]) -> AnnotationSet:
    """Several sets as one (filenames made relative to a common root)."""
    if len(sets) == 1:
        return sets[0]
    images = []
    for s in sets:
        for im in s.images:
            images.append(replace(im, filename=str((s.root / im.filename).resolve())))
    return AnnotationSet(images, Path("/"), "+".join(s.source for s in sets))
