"""COCO-style evaluation (mAP@[.5:.95], mAP@.5, per-class AP and recall) with pycocotools."""

from deskvision.evaluation.coco_eval import Metrics, evaluate, evaluate_detections

__all__ = ["Metrics", "evaluate", "evaluate_detections"]
