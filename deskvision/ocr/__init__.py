"""Read the screen: the text of detected elements (OCR) and finding an element by its text."""

from deskvision.ocr.engines import DEFAULT_ENGINE, ENGINES, OcrEngine, TextLine, create_engine
from deskvision.ocr.find import Match, find, normalize, similarity
from deskvision.ocr.labels import ICON_RULES, has_extension, label_class, relabel_icons
from deskvision.ocr.reader import ScreenText, read_text, text_region

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "ICON_RULES",
    "Match",
    "OcrEngine",
    "ScreenText",
    "TextLine",
    "create_engine",
    "find",
    "has_extension",
    "label_class",
    "normalize",
    "read_text",
    "relabel_icons",
    "similarity",
    "text_region",
]
