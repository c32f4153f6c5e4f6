"""Detection on screenshots: `Detector.load(path)` then `detector(image)`."""

from deskvision.inference.detector import DEFAULT_MODEL, Detector

__all__ = ["DEFAULT_MODEL", "Detector"]
