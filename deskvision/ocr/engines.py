"""OCR engines behind one small interface.

- `engine.read_line(image)`: the text of one line of text (a cropped, prepared line image);
- `engine.read(image)`: every line of text of a larger image (with the engine's own text
  detection), for the free text of a whole screen.

Two real engines, both offline: Tesseract (Debian's `tesseract-ocr`, through `pytesseract`)
and RapidOCR (`rapidocr_onnxruntime`, whose wheel ships its ONNX models). BENCHMARKS.md
compares them on harvested screenshots; `DEFAULT_ENGINE` is the one chosen by that measure.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from deskvision.errors import DeskvisionError

ENGINES = ("rapidocr", "tesseract")
DEFAULT_ENGINE = "rapidocr"


@dataclass(frozen=True)
class TextLine:
    """One line of text and its box (xyxy, pixels of the image it was read from)."""

    text: str
    box: tuple[float, float, float, float]
    score: float  # the engine's confidence, 0..1

    def to_dict(self) -> dict:
        return {"text": self.text, "box": [round(float(v), 1) for v in self.box], "score": round(self.score, 3)}


class OcrEngine(Protocol):
    name: str

    def read_line(self, line: Image.Image) -> tuple[str, float]: ...

    def read(self, image: Image.Image) -> list[TextLine]: ...


class TesseractEngine:
    """Tesseract 4/5 (LSTM): one line (`--psm 7`) or a sparse screen (`--psm 11`)."""

    name = "tesseract"

    def __init__(self, lang: str = "eng"):
        try:
            import pytesseract
        except ImportError:
            raise DeskvisionError("the tesseract engine needs pytesseract: pip install 'deskvision[ocr]'") from None
        if shutil.which("tesseract") is None:
            raise DeskvisionError("the tesseract program is not installed: sudo apt-get install tesseract-ocr tesseract-ocr-eng")
        self._tess = pytesseract
        self.lang = lang

    def _data(self, image: Image.Image, psm: int) -> dict:
        img = ImageOps.expand(image.convert("L"), border=10, fill=255)  # Tesseract wants a margin
        return self._tess.image_to_data(img, lang=self.lang, config=f"--psm {psm}", output_type=self._tess.Output.DICT)

    def read_line(self, line: Image.Image) -> tuple[str, float]:
        d = self._data(line, 7)
        words = [(w.strip(), float(c)) for w, c in zip(d["text"], d["conf"], strict=True) if w.strip() and float(c) >= 0]
        return " ".join(w for w, _ in words), (float(np.mean([c for _, c in words])) / 100 if words else 0.0)

    def read(self, image: Image.Image) -> list[TextLine]:
        d = self._data(image, 11)
        lines: dict[tuple, list[int]] = {}
        for i, word in enumerate(d["text"]):
            if word.strip() and float(d["conf"][i]) >= 0:
                lines.setdefault((d["block_num"][i], d["par_num"][i], d["line_num"][i]), []).append(i)
        out = []
        for idx in lines.values():
            x0, y0 = min(d["left"][i] for i in idx), min(d["top"][i] for i in idx)
            x1 = max(d["left"][i] + d["width"][i] for i in idx)
            y1 = max(d["top"][i] + d["height"][i] for i in idx)
            score = float(np.mean([float(d["conf"][i]) for i in idx])) / 100
            out.append(TextLine(" ".join(d["text"][i].strip() for i in idx), (x0 - 10, y0 - 10, x1 - 10, y1 - 10), score))
        return out


class RapidOcrEngine:
    """RapidOCR: PP-OCR recognition (and, for whole screens, detection) in ONNX Runtime."""

    name = "rapidocr"

    def __init__(self):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise DeskvisionError("the rapidocr engine needs rapidocr_onnxruntime: pip install 'deskvision[ocr]'") from None
        self._ocr = RapidOCR()

    def read_line(self, line: Image.Image) -> tuple[str, float]:
        img = ImageOps.expand(line.convert("RGB"), border=4, fill=(255, 255, 255))
        result, _ = self._ocr(np.asarray(img), use_det=False, use_cls=False)
        if not result:
            return "", 0.0
        text, score = result[0]
        return str(text).strip(), float(score)

    def read(self, image: Image.Image) -> list[TextLine]:
        result, _ = self._ocr(np.asarray(image.convert("RGB")), use_cls=False)
        out = []
        for points, text, score in result or []:
            pts = np.asarray(points, np.float32)
            if str(text).strip():
                out.append(
                    TextLine(str(text).strip(), tuple(float(v) for v in (*pts.min(axis=0), *pts.max(axis=0))), float(score))
                )
        return out


def create_engine(name: str = DEFAULT_ENGINE) -> OcrEngine:
    """An OCR engine by name; create it once and reuse it (RapidOCR loads its models here)."""
    if name == "tesseract":
        return TesseractEngine()
    if name == "rapidocr":
        return RapidOcrEngine()
    raise DeskvisionError(f"unknown OCR engine {name!r}; choose one of: {', '.join(ENGINES)}")
