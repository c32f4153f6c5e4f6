"""`Detector`: a loaded model plus post-processing, returning `Detections`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from deskvision.data.images import ImageInput, load_pixels
from deskvision.detections import ONE_PER_TITLEBAR, Detections
from deskvision.errors import ModelError
from deskvision.inference.onnxrt import apply_runtime, check_runtime
from deskvision.models.factory import ModelConfig
from deskvision.models.io import load_model
from deskvision.ocr.engines import DEFAULT_ENGINE, OcrEngine, create_engine
from deskvision.ocr.labels import DEFAULT_ICON_RULE, check_icon_rule
from deskvision.ocr.reader import read_text
from deskvision.utils.runtime import pick_device

#: The model shipped inside the package, used when no model is given.
DEFAULT_MODEL = resources.files("deskvision") / "weights" / "default.safetensors"


class Detector:
    """Find desktop elements on screenshots.

    >>> detector = Detector.load()                 # the shipped model
    >>> found = detector("screenshot.png")         # Detections
    >>> found.filter(classes=["folder"]).centers   # where to click
    >>> Detector.load(ocr=True)("shot.png").text   # with the text of each element
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: ModelConfig,
        *,
        device: str | torch.device = "cpu",
        threshold: float = 0.5,
        nms_iou: float = 0.5,
        duplicate_iou: float | None = 0.85,
        min_window_edges: float | None = 0.002,
        drop_nested: bool = False,
        one_per_titlebar: bool = ONE_PER_TITLEBAR,
        square_buttons: bool = False,
        box_vote: float | None = None,
        metadata: dict | None = None,
        ocr: bool | str | OcrEngine = False,
        icon_labels: str = DEFAULT_ICON_RULE,
        runtime: str = "torch",
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu":
            # oneDNN convolutions run 10-15 % faster on NHWC tensors, same results (BENCHMARKS.md)
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = config
        self.threshold = threshold
        self.duplicate_iou = duplicate_iou
        # Window boxes over featureless areas (plain wallpaper) are dropped: `Detections.drop_featureless`.
        self.min_window_edges = min_window_edges
        # Opt-in (its pre-written rule did not make it the default): `Detections.drop_nested`.
        self.drop_nested = drop_nested
        # Title-bar buttons: at most one of each class per title bar (`Detections.one_per_titlebar`),
        # and square boxes as ANNOTATION.md draws them (`Detections.square_boxes`).
        self.one_per_titlebar = one_per_titlebar
        self.square_buttons = square_buttons
        # Box voting at the final NMS (`Detections.nms(vote_iou=...)`): the model then returns its
        # boxes before NMS and `_postprocess` does the NMS.
        self.box_vote = box_vote
        self.nms_iou = nms_iou
        self.max_detections = int(self.model.roi_heads.detections_per_img)
        self.metadata = metadata or {}
        self.runtime = runtime  # what runs the convolutions: "torch" or "onnx" (set up by `load`)
        # Class-wise NMS inside the model: nested elements of other classes (a window and its
        # close button) always survive it.
        self.model.roi_heads.nms_thresh = 1.0 if box_vote is not None else nms_iou
        if box_vote is not None:
            self.model.roi_heads.detections_per_img = 1_000_000
        self.model.roi_heads.score_thresh = min(0.05, threshold)
        self.class_names = ("__background__", *config.classes)
        # OCR (`read_text`) fills each element's text: True for the default engine, or a name
        # or an engine instance.
        if ocr is True:
            ocr = DEFAULT_ENGINE
        self.ocr: OcrEngine | None = create_engine(ocr) if isinstance(ocr, str) else (ocr or None)
        # with OCR, how the labels read under icons decide file or launcher (`relabel_icons`)
        check_icon_rule(icon_labels)
        self.icon_labels = icon_labels

    @classmethod
    def load(cls, path: str | Path | None = None, *, device: str = "cpu", runtime: str = "auto", **kwargs) -> Detector:
        """Load a deskvision model file (the shipped default model when `path` is None).

        `runtime`: ``"torch"``, ``"onnx"`` (the convolutions in ONNX Runtime, CPU only; needs the
        model's ONNX export, see `export_onnx`) or ``"auto"`` (ONNX Runtime when on CPU and the
        export is there, else torch).
        """
        check_runtime(runtime)  # before loading anything
        if path is None:
            if not DEFAULT_MODEL.is_file():
                raise ModelError("no default model is installed with this copy of deskvision; pass --model MODEL_FILE")
            path = Path(str(DEFAULT_MODEL))
        dev = pick_device(device)
        model, config, meta = load_model(path, dev)
        used = apply_runtime(model, path, runtime, dev)
        return cls(model, config, device=dev, metadata=meta, runtime=used, **kwargs)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.config.classes)

    def _postprocess(
        self, output: dict, picture: np.ndarray, threshold: float | None, classes: Iterable[str] | None
    ) -> Detections:
        dets = Detections.from_torchvision(output, self.class_names)
        if self.box_vote is not None:
            dets = dets.nms(self.nms_iou, vote_iou=self.box_vote)[: self.max_detections]
        # before the score filter: the steps below weigh each button's runner-up classes
        if self.square_buttons:
            dets = dets.square_boxes()
        if self.one_per_titlebar:
            dets = dets.one_per_titlebar()
        dets = dets.filter(classes=classes, min_score=self.threshold if threshold is None else threshold)
        if self.min_window_edges is not None:
            dets = dets.drop_featureless(picture, ("window",), self.min_window_edges)
        if self.drop_nested:
            dets = dets.drop_nested()
        if self.duplicate_iou is not None:
            dets = dets.remove_duplicates(self.duplicate_iou)
        return dets

    @torch.inference_mode()
    def detect(
        self, images: Sequence[ImageInput], threshold: float | None = None, classes: Iterable[str] | None = None
    ) -> list[Detections]:
        """Detect on several images (paths, bytes, PIL images or arrays) in one batch."""
        if classes is not None:
            classes = list(classes)
        pictures = [load_pixels(img) for img in images]
        # uint8 (H, W, 3) arrays as (3, H, W) views: the model resizes before normalising
        # (`ScreenTransform.forward`); a read-only array is copied, torch tensors are writable
        tensors = [torch.from_numpy(p if p.flags.writeable else p.copy()).permute(2, 0, 1).to(self.device) for p in pictures]
        outputs = self.model(tensors) if tensors else []
        found = [self._postprocess(out, pic, threshold, classes) for out, pic in zip(outputs, pictures, strict=True)]
        if self.ocr is not None:
            found = [
                read_text(img, dets, self.ocr, icon_labels=self.icon_labels).elements
                for img, dets in zip(pictures, found, strict=True)
            ]
        return found

    def __call__(self, image: ImageInput, threshold: float | None = None, classes: Iterable[str] | None = None) -> Detections:
        return self.detect([image], threshold, classes)[0]
