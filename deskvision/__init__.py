"""deskvision: find desktop elements (folders, files, launchers, windows, buttons...) on screenshots."""

from deskvision.classes import CLASSES
from deskvision.detections import Detections

__version__ = "0.1.0"

__all__ = ["CLASSES", "Detections", "Detector", "__version__"]


def __getattr__(name: str):
    # Imported lazily so that `import deskvision` does not pull in torch.
    if name == "Detector":
        from deskvision.inference.detector import Detector

        return Detector
    raise AttributeError(name)
