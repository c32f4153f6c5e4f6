"""Find an element by the text it shows: case, accents and spacing ignored, ellipsized labels
("Very long na…") matched by their visible start, OCR slips forgiven (fuzzy ratio)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from deskvision.detections import Detections

ELLIPSES = ("…", "...", "..")


@dataclass
class Match:
    """One element that reads like the query; `score` is 0..100, best matches first."""

    index: int  # position in the Detections searched
    score: float
    cls: str
    text: str
    box: tuple[float, float, float, float]
    center: tuple[float, float]  # where to click

    def to_dict(self) -> dict:
        return {
            "class": self.cls,
            "text": self.text,
            "score": round(self.score, 1),
            "box": [round(v, 1) for v in self.box],
            "center": [round(v, 1) for v in self.center],
        }


def normalize(text: str) -> str:
    """Casefolded, accents removed, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def similarity(query: str, shown: str) -> float:
    """How much `shown` (an element's text) reads like `query`, 0..100."""
    q, s = normalize(query), normalize(shown)
    if not q or not s:
        return 0.0
    for mark in ELLIPSES:
        if s.endswith(mark):  # an elided label shows the start of the name
            start = s[: -len(mark)].rstrip()
            if len(start) >= 3:
                return max(fuzz.ratio(q[: len(start)], start), fuzz.ratio(q, s)) * (0.99 if q != start else 1.0)
    return float(fuzz.ratio(q, s))


def find(elements: Detections, query: str, cls: str | None = None, min_score: float = 70.0) -> list[Match]:
    """Elements whose text reads like `query` (at least `min_score`), best first.

    `elements` must carry text (`read_text`, `Detector(..., ocr=True)` or `detect --ocr`).
    """
    if cls is not None and cls not in elements.class_names[1:]:
        raise ValueError(f"unknown class {cls!r}; known: {', '.join(elements.class_names[1:])}")
    matches = []
    for i, (name, text) in enumerate(zip(elements.labels, elements.text, strict=True)):
        if text is None or (cls is not None and name != cls):
            continue
        score = similarity(query, text)
        if score >= min_score:
            box = tuple(float(v) for v in elements.xyxy[i])
            center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            matches.append(Match(i, score, name, text, box, center))
    return sorted(matches, key=lambda m: (-m.score, -float(elements.scores[m.index])))


def closest(elements: Detections, query: str, cls: str | None = None) -> Match | None:
    """The best-reading element whatever its score (to say what was seen when nothing matches)."""
    found = find(elements, query, cls, min_score=0.0)
    return found[0] if found else None
