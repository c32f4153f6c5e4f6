"""Character error rate of element text read by OCR, against datasets that record the text
each element shows (harvested and synthetic screenshots do: VIA region attribute `text`)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

from deskvision.classes import CLASSES
from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.images import load_image
from deskvision.detections import Detections
from deskvision.ocr.engines import OcrEngine
from deskvision.ocr.reader import TITLE_BUTTONS, read_text

# Toolbar buttons drawn as icons have an accessible name but show no text: only buttons at
# least twice as wide as tall (a caption beside or instead of an icon) are scored. A window's
# title is scored only when one of its title-bar buttons is labelled (else another window
# covers the title bar, and the recorded title is not on the screen).
NAMES = ("__background__", *CLASSES)
SCORED = ("folder", "file", "launcher", "trash", "window", "menu", "text_field", "button")


@dataclass
class OcrScore:
    cer: float  # total edit distance / total ground-truth characters
    exact: float  # fraction of elements read exactly (whitespace collapsed)
    elements: int

    @classmethod
    def of(cls, pairs: list[tuple[str, str]]) -> OcrScore:
        chars = sum(len(t) for t, _ in pairs)
        edits = sum(Levenshtein.distance(t, r) for t, r in pairs)
        exact = sum(t == r for t, r in pairs)
        return cls(edits / max(1, chars), exact / max(1, len(pairs)), len(pairs))


@dataclass
class OcrReport:
    engine: str
    overall: OcrScore
    per_class: dict[str, OcrScore]
    per_look: dict[str, OcrScore]
    seconds_per_image: float  # median OCR time of one screenshot's elements
    images: int

    def to_dict(self) -> dict:
        return asdict(self)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _shows_text(cls: str, box: np.ndarray, title_buttons: np.ndarray) -> bool:
    if cls == "button":
        return bool(box[2] - box[0] >= 2 * (box[3] - box[1]))
    if cls == "window":
        top = title_buttons[(title_buttons[:, 1] >= box[1] - 2) & (title_buttons[:, 1] <= box[1] + 0.2 * (box[3] - box[1]))]
        return bool(len(top) and ((top[:, 0] >= box[0] - 2) & (top[:, 2] <= box[2] + 2)).any())
    return True


def read_labelled(img: Image.Image, im: ImageAnnotation, engine: OcrEngine) -> list[tuple[str, str, str]]:
    """(class, recorded text, text read) of each scored element of one labelled screenshot."""
    labels = im.labels
    # title-bar buttons are passed too: they bound the window titles
    extra = [i for i, lab in enumerate(labels) if lab in TITLE_BUTTONS]
    keep = [
        i
        for i, (lab, box, txt) in enumerate(zip(labels, im.boxes, im.texts, strict=True))
        if lab in SCORED and txt and _shows_text(lab, box, im.boxes[extra])
    ]
    if not keep:
        return []
    idx = keep + extra
    dets = Detections(im.boxes[idx], [NAMES.index(labels[i]) for i in idx], np.ones(len(idx)), NAMES)
    found = read_text(img, dets, engine, icon_labels="off").elements  # the labelled boxes, as they are
    return [(labels[i], _clean(im.texts[i]), _clean(found.text[j])) for j, i in enumerate(keep)]


def evaluate_ocr(annotations: AnnotationSet, engine: OcrEngine, look_key: str = "look") -> OcrReport:
    """Read the text of every ground-truth element (boxes from the labels, so detection errors
    do not count) and compare with the recorded text."""
    pairs: dict[str, list] = defaultdict(list)
    looks: dict[str, list] = defaultdict(list)
    times = []
    for im in annotations.images:
        img = load_image(annotations.path(im))
        t0 = time.perf_counter()
        read = read_labelled(img, im, engine)
        if not read:
            continue
        times.append(time.perf_counter() - t0)
        look = str(im.attributes.get(look_key, "-"))
        for cls, truth, text in read:
            pairs[cls].append((truth, text))
            looks[look].append((truth, text))
    every = [p for v in pairs.values() for p in v]
    return OcrReport(
        engine.name,
        OcrScore.of(every),
        {k: OcrScore.of(v) for k, v in sorted(pairs.items())},
        {k: OcrScore.of(v) for k, v in sorted(looks.items())},
        float(np.median(times)) if times else float("nan"),
        len(times),
    )
