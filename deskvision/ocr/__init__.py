"""Read the screen: the text of detected elements (OCR) and finding an element by its text."""

from deskvision.ocr.engines import DEFAULT_ENGINE, ENGINES, OcrEngine, TextLine, create_engine
from deskvision.ocr.find import Match, find, normalize, similarity
from deskvision.ocr.reader import ScreenText, read_text, text_region

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "Match",
    "OcrEngine",
    "ScreenText",
    "TextLine",
    "create_engine",
    "find",
    "normalize",
    "read_text",
    "similarity",
    "text_region",
]
