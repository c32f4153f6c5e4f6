"""Why a model misses elements: for every ground-truth box of a class, what the model gave there.

    python scripts/miss_analysis.py MODEL DATA [--classes text_field,window] [--limit N] [--json OUT]

Each ground-truth box falls in one of:
  found          a detection of its class at IoU >= 0.5 with score >= 0.5
  found_low      only below score 0.5 (down to 0.05)
  other_class    no detection of its class at IoU >= 0.5, but one of another class (named)
  loose          its class's best box overlaps it at IoU 0.3-0.5 (found, badly placed)
  nothing        nothing of its class even at IoU 0.3 and score 0.05
"""

from __future__ import annotations

import argparse
import collections
import json

import numpy as np

from deskvision.data import load_annotations
from deskvision.detections import box_iou
from deskvision.inference import Detector
from deskvision.utils.runtime import set_threads


def analyse(detector: Detector, ann, classes: list[str], limit: int = 0) -> dict:
    out = {c: collections.Counter() for c in classes}
    for im in ann.images[: limit or None]:
        dets = detector(ann.path(im), threshold=0.05)
        names = np.array([dets.class_names[i] for i in dets.class_id]) if len(dets) else np.array([])
        iou = box_iou(np.asarray(im.boxes, np.float64).reshape(-1, 4), dets.xyxy) if len(dets) else None
        for g, label in enumerate(im.labels):
            if label not in out:
                continue
            if iou is None:
                out[label]["nothing"] += 1
                continue
            same = names == label
            hit = same & (iou[g] >= 0.5)
            if hit.any():
                out[label]["found" if dets.scores[hit].max() >= 0.5 else "found_low"] += 1
            elif (iou[g] >= 0.5).any():
                out[label]["other_class:" + names[int(np.argmax(iou[g]))]] += 1
            elif same.any() and iou[g][same].max() >= 0.3:
                out[label]["loose"] += 1
            else:
                out[label]["nothing"] += 1
    return {c: dict(v.most_common()) for c, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model file, or 'default' for the shipped one")
    parser.add_argument("data", help="VIA/COCO annotations")
    parser.add_argument("--classes", default="launcher,window,minimize,maximize,button,text_field")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--json", help="write the counts here")
    args = parser.parse_args()
    set_threads()
    detector = Detector.load(None if args.model == "default" else args.model, threshold=0.05)
    ann = load_annotations(args.data)
    result = analyse(detector, ann, args.classes.split(","), args.limit)
    for cls, counts in result.items():
        total = sum(counts.values())
        share = ", ".join(f"{k} {v / total:.0%}" for k, v in counts.items()) if total else "-"
        print(f"{cls:<11} {total:>5}  {share}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
