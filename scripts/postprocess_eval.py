"""Score post-processing steps on a model's raw detections, without running the model twice.

    python scripts/postprocess_eval.py MODEL DATA --cache raw.npz [--pre-nms] [--variants A,B+C]
        [--limit N] [--by ATTRIBUTE] [--json OUT]

The model runs once per screenshot (threshold 0.05, no filter: what `deskvision evaluate`
scores) and its boxes are cached in `--cache`; then each variant below is applied to the same
boxes and scored with COCO mAP. A variant is steps joined by "+" (`STEPS`). With `--pre-nms`
the cache holds the model's per-class boxes before its final NMS, and each variant starts with
`nms` (the model's own) or `vote50` / `vote70` (NMS with box voting).
Choose a step's settings on training screenshots, report them on held-out ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from deskvision.classes import TITLEBAR_CLASSES
from deskvision.data import load_annotations
from deskvision.detections import Detections, box_iou
from deskvision.evaluation.coco_eval import evaluate_detections
from deskvision.inference import Detector
from deskvision.models.factory import snap_square_sides
from deskvision.utils.progress import track
from deskvision.utils.runtime import set_threads

MAX_DETECTIONS = 300  # the model's box_detections_per_img


def snap_sides(d: Detections, sides: tuple[float, ...]) -> Detections:
    """What a model with `ModelConfig.titlebar_sides` = `sides` does to its title-bar buttons."""
    snap = np.isin(d.class_id, [d.class_names.index(c) for c in TITLEBAR_CLASSES if c in d.class_names])
    xyxy = snap_square_sides(torch.from_numpy(d.xyxy.astype(np.float32)), torch.from_numpy(snap), sides).numpy()
    return Detections(xyxy, d.class_id, d.scores, d.class_names, list(d.text))


def demote_duplicates(d: Detections, factor: float, iou_threshold: float = 0.85) -> Detections:
    """Soft `remove_duplicates` (as Soft-NMS is of NMS): a box that a better-scored box of another
    class covers at IoU above `iou_threshold` keeps its place with its score times `factor`."""
    if len(d) < 2:
        return d
    s, n = d.scores, np.arange(len(d))
    better = (s[None, :] > s[:, None]) | ((s[None, :] == s[:, None]) & (n[None, :] < n[:, None]))
    clash = (box_iou(d.xyxy, d.xyxy) > iou_threshold) & (d.class_id[:, None] != d.class_id[None, :]) & better
    scores = np.where(clash.any(axis=1), s * factor, s)
    return Detections(d.xyxy, d.class_id, scores, d.class_names, list(d.text))


# A variant is steps joined by "+", applied left to right to the raw detections.
STEPS = {
    "raw": lambda d: d,
    # what `Detector` adds (`--duplicate-iou 0.85`): of boxes of different classes on one element, the best
    "remove_duplicates": lambda d: d.remove_duplicates(0.85),
    # title-bar buttons snapped to the sides ANNOTATION.md draws (16 px x screen scale):
    # `ModelConfig.titlebar_sides`, applied here to a model that has none
    "sides16": lambda d: snap_sides(d, (16.0,)),
    "sides16_32": lambda d: snap_sides(d, (16.0, 32.0)),
    # the same, soft: an element's second-guess classes keep their boxes at a lower score (rejected)
    "demote10": lambda d: demote_duplicates(d, 0.1),
    "demote50": lambda d: demote_duplicates(d, 0.5),
    # of two boxes of one class (not windows) where one lies inside the other, the best
    "drop_nested": lambda d: d.drop_nested(),
    # title-bar buttons as squares on their own centres (ANNOTATION.md), side (w+h)/2 or max(w, h), >= 16
    "square_mean": lambda d: d.square_boxes(side="mean"),
    "square_max": lambda d: d.square_boxes(side="max"),
    # at most one close, one minimize and one maximize per title bar
    "assign": lambda d: d.one_per_titlebar(),
    # with --pre-nms only: the model's own final NMS (IoU 0.5, best 300), or NMS with box voting
    "nms": lambda d: d.nms(0.5)[:MAX_DETECTIONS],
    "vote50": lambda d: d.nms(0.5, vote_iou=0.5)[:MAX_DETECTIONS],
    "vote70": lambda d: d.nms(0.5, vote_iou=0.7)[:MAX_DETECTIONS],
}
VARIANTS = (
    "raw",
    "remove_duplicates",
    "sides16",
    "sides16_32",
    "demote10",
    "demote50",
    "drop_nested",
    "drop_nested+remove_duplicates",
    "square_mean+remove_duplicates",
    "square_max+remove_duplicates",
    "assign+remove_duplicates",
    "square_mean+assign+remove_duplicates",
    "square_max+assign+remove_duplicates",
)


def apply(variant: str, d: Detections) -> Detections:
    for step in variant.split("+"):
        d = STEPS[step](d)
    return d


def raw_detections(model: str, ann, cache: Path, limit: int, pre_nms: bool = False) -> list[Detections]:
    images = ann.images[: limit or None]
    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        names = tuple(str(n) for n in data["class_names"])
        if int(data["images"]) == len(images):
            return [Detections(data[f"xyxy{i}"], data[f"class_id{i}"], data[f"scores{i}"], names) for i in range(len(images))]
    detector = Detector.load(
        None if model == "default" else model,
        threshold=0.05,
        min_window_edges=None,
        duplicate_iou=None,
        one_per_titlebar=False,  # raw: every post-processing step is a variant here
        nms_iou=1.0 if pre_nms else 0.5,
    )
    if pre_nms:  # every per-class box above the score threshold, none suppressed or cut
        detector.model.roi_heads.detections_per_img = 1_000_000
    found = [detector(ann.path(im)) for im in track(images, "detecting")]
    arrays = {"images": np.array(len(images)), "class_names": np.array(detector.class_names)}
    for i, d in enumerate(found):
        arrays.update({f"xyxy{i}": d.xyxy, f"class_id{i}": d.class_id, f"scores{i}": d.scores})
    np.savez_compressed(cache, **arrays)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model file, or 'default' for the shipped one")
    parser.add_argument("data", help="VIA/COCO annotations")
    parser.add_argument("--cache", required=True, help="npz file of the raw detections (made if missing)")
    parser.add_argument(
        "--pre-nms", action="store_true", help="cache the boxes before the final NMS (variants start with nms or vote*)"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--by", help="also score each value of this file attribute apart (e.g. button_layout)")
    parser.add_argument("--json", help="write the metrics of every variant here")
    args = parser.parse_args()
    set_threads()
    ann = load_annotations(args.data)
    found = raw_detections(args.model, ann, Path(args.cache), args.limit, args.pre_nms)
    classes = found[0].class_names[1:] if found else ()
    gts = []
    for im in ann.images[: len(found)]:
        labels = [classes.index(label) + 1 for label in im.labels]
        gts.append((np.asarray(im.boxes, np.float64).reshape(-1, 4), np.asarray(labels, np.int64)))
    groups = {"all": list(range(len(found)))}
    if args.by:
        for i, im in enumerate(ann.images[: len(found)]):
            groups.setdefault(f"{args.by}={im.attributes.get(args.by)}", []).append(i)
    report = {}
    for name in args.variants.split(","):
        processed = [apply(name, d) for d in found]
        for group, idx in groups.items():
            m = evaluate_detections([gts[i] for i in idx], [processed[i] for i in idx], classes)
            report[f"{name}/{group}"] = m.to_dict()
            shown = ("launcher", *TITLEBAR_CLASSES)
            per = "  ".join(f"{c} {v['ap50']:.3f}/{v['ap']:.3f}" for c, v in m.per_class.items() if c in shown)
            print(f"{name:<24} {group:<20} {len(idx):>4} images  mAP@.5 {m.map50:.3f}  mAP {m.map:.3f}  {per}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
