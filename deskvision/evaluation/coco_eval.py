"""Evaluate detections against ground truth with pycocotools' COCOeval."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from deskvision.detections import Detections

MAX_DETS = (10, 100, 300)  # desktops often hold more than COCO's 100 objects


@dataclass
class Metrics:
    map: float  # mAP@[.5:.95]
    map50: float  # mAP@.5
    map75: float
    recall: float  # mean recall@[.5:.95], up to 300 detections
    per_class: dict[str, dict[str, float]]  # name -> {ap, ap50, recall, recall50, instances}
    images: int

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> list[tuple]:
        rows = [(name, int(v["instances"]), v["ap"], v["ap50"], v["recall50"]) for name, v in self.per_class.items()]
        return rows + [("all", sum(int(v["instances"]) for v in self.per_class.values()), self.map, self.map50, self.recall)]


def _nan_mean(a: np.ndarray) -> float:
    a = a[a > -1]
    return float(a.mean()) if a.size else float("nan")


def evaluate_detections(
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]], detections: Sequence[Detections], classes: Sequence[str]
) -> Metrics:
    """`ground_truth`: per image (boxes xyxy, 1-based class ids); `detections`: per image."""
    images, anns, results = [], [], []
    for image_id, ((boxes, labels), dets) in enumerate(zip(ground_truth, detections, strict=True), start=1):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        w = float(max(boxes[:, 2].max(initial=1), dets.xyxy[:, 2].max(initial=1)))
        h = float(max(boxes[:, 3].max(initial=1), dets.xyxy[:, 3].max(initial=1)))
        images.append({"id": image_id, "width": w, "height": h})
        for (x0, y0, x1, y1), label in zip(boxes.tolist(), np.asarray(labels).tolist(), strict=True):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
        results.extend(dets.to_coco_results(image_id))
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": i + 1, "name": c} for i, c in enumerate(classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:
            dt.dataset = {"images": images, "annotations": [], "categories": gt.dataset["categories"]}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.params.maxDets = list(MAX_DETS)
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, -1]  # T x R x K, all areas, 300 dets
    recall = ev.eval["recall"][:, :, 0, -1]  # T x K
    counts = np.bincount([a["category_id"] for a in anns], minlength=len(classes) + 1)
    per_class = {}
    for k, name in enumerate(classes):
        if counts[k + 1] == 0:
            continue
        per_class[name] = {
            "ap": _nan_mean(precision[:, :, k]),
            "ap50": _nan_mean(precision[0, :, k]),
            "recall": _nan_mean(recall[:, k]),
            "recall50": _nan_mean(recall[0:1, k]),
            "instances": int(counts[k + 1]),
        }
    return Metrics(
        map=_nan_mean(precision),
        map50=_nan_mean(precision[0]),
        map75=_nan_mean(precision[5]),
        recall=_nan_mean(recall),
        per_class=per_class,
        images=len(images),
    )


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, dataset, device: str | torch.device = "cpu", batch_size: int = 2, progress: bool = False
) -> Metrics:
    """Run `model` over a `ScreenDataset` and score it."""
    from deskvision.data.dataset import collate
    from deskvision.utils.progress import track

    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    gts, dets = [], []
    names = ("__background__", *dataset.classes)
    for images, targets in track(loader, "evaluating", enabled=progress):
        outputs = model([img.to(device) for img in images])
        for out, tgt in zip(outputs, targets, strict=True):
            gts.append((tgt["boxes"].numpy(), tgt["labels"].numpy()))
            dets.append(Detections.from_torchvision(out, names))
    return evaluate_detections(gts, dets, dataset.classes)
