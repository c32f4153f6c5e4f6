"""`ScreenDataset`: annotated screenshots as a torch Dataset, as in the seed article."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from deskvision.classes import CLASSES
from deskvision.data.annotations import AnnotationSet
from deskvision.data.formats import load_annotations
from deskvision.data.images import load_image

Transform = Callable[[Image.Image, np.ndarray, np.ndarray], tuple[Image.Image, np.ndarray, np.ndarray]]


class ScreenDataset(torch.utils.data.Dataset):
    """Screenshots and their boxes → ``(image, target)`` as torchvision detection models expect.

    ``image`` is a float tensor 3xHxW in [0, 1] (with ``uint8=True``, the uint8 tensor that
    `Detector` feeds the model: use it to score what users get); ``target`` holds ``boxes``
    (xyxy float32), ``labels`` (int64, 1-based index into `classes`), ``image_id``, ``area`` and
    ``iscrowd``.
    """

    def __init__(
        self,
        annotations: AnnotationSet,
        classes: Sequence[str] = CLASSES,
        transforms: Transform | None = None,
        *,
        uint8: bool = False,
    ):
        self.annotations = annotations
        self.classes = tuple(classes)
        self.transforms = transforms
        self.uint8 = uint8
        self._index = {c: i + 1 for i, c in enumerate(self.classes)}
        unknown = {lab for im in annotations.images for lab in im.labels} - set(self._index)
        if unknown:
            from deskvision.errors import DataError

            raise DataError(f"labels not among the model's classes: {', '.join(sorted(unknown))}")

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        images: str | Path | None = None,
        classes: Sequence[str] = CLASSES,
        transforms: Transform | None = None,
        attribute: str | None = None,
    ) -> ScreenDataset:
        """Open a VIA/COCO/YOLO dataset, validate it and map its labels onto `classes`."""
        ann = load_annotations(path, images=images, attribute=attribute)
        ann.validate()
        ann.map_labels(classes)
        return cls(ann, classes, transforms)

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        im = self.annotations.images[idx]
        img = load_image(self.annotations.path(im))
        boxes = im.boxes.copy()
        labels = np.array([self._index[lab] for lab in im.labels], dtype=np.int64)
        if self.transforms is not None:
            img, boxes, labels = self.transforms(img, boxes, labels)
        boxes_t = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        target = {
            "boxes": boxes_t,
            "labels": torch.as_tensor(labels, dtype=torch.int64),
            "image_id": torch.tensor(idx, dtype=torch.int64),
            "area": (boxes_t[:, 2] - boxes_t[:, 0]) * (boxes_t[:, 3] - boxes_t[:, 1]),
            "iscrowd": torch.zeros(len(boxes_t), dtype=torch.int64),
        }
        tensor = pil_to_tensor(img)
        return (tensor if self.uint8 else tensor.float().div_(255)), target


def collate(batch: list) -> tuple[list, list]:
    """Keep images of different sizes as lists, as torchvision detection models take them."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)
