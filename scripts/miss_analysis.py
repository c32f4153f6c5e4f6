"""Why a model misses elements: for every ground-truth box of a class, what the model gave there.

    python scripts/miss_analysis.py MODEL DATA [--classes text_field,window] [--limit N] [--json OUT]

Each ground-truth box falls in one of:
  found          a detection of its class at IoU >= 0.5 with score >= 0.5
  found_low      only below score 0.5 (down to 0.05)
  other_class    no detection of its class at IoU >= 0.5, but one of another class (named)
  loose          its class's best box overlaps it at IoU 0.3-0.5 (found, badly placed)
  nothing        nothing of its class even at IoU 0.3 and score 0.05

And every detection of a class at score >= 0.5 (what a user sees) in one of:
  true           the best unclaimed ground-truth box of its class at IoU >= 0.5 (greedy by score)
  duplicate      a second detection on a ground-truth box already claimed
  on:<class>     no box of its class there, but a ground-truth box of <class> at IoU >= 0.5
  loose          a box of its class at IoU 0.3-0.5
  background     nothing of any class at IoU >= 0.3
  near:<class>   the rest: a ground-truth box of <class> at IoU 0.3-0.5
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


def false_positives(names: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: np.ndarray, out: dict) -> None:
    """Count each detection of ``out``'s classes at score >= 0.5 by what lies under it."""
    claimed: set[int] = set()
    for d in np.argsort(-scores, kind="stable"):
        if scores[d] < 0.5 or names[d] not in out:
            continue
        column = iou[:, d]
        same = labels == names[d]
        free = [g for g in np.flatnonzero(same & (column >= 0.5)) if g not in claimed]
        if free:
            claimed.add(max(free, key=lambda g: column[g]))
            kind = "true"
        elif (same & (column >= 0.5)).any():
            kind = "duplicate"
        elif (column >= 0.5).any():
            kind = "on:" + labels[int(np.argmax(column))]
        elif (same & (column >= 0.3)).any():
            kind = "loose"
        elif not (column >= 0.3).any():
            kind = "background"
        else:
            kind = "near:" + labels[int(np.argmax(column))]
        out[names[d]][kind] += 1


def _ranked(counts: dict[str, collections.Counter]) -> dict[str, dict[str, int]]:
    return {c: dict(v.most_common()) for c, v in counts.items()}


def analyse(detector: Detector, ann, classes: list[str], limit: int = 0) -> tuple[dict, dict]:
    out = {c: collections.Counter() for c in classes}
    fps = {c: collections.Counter() for c in classes}
    for im in ann.images[: limit or None]:
        dets = detector(ann.path(im), threshold=0.05)
        names = np.array([dets.class_names[i] for i in dets.class_id]) if len(dets) else np.array([])
        iou = box_iou(np.asarray(im.boxes, np.float64).reshape(-1, 4), dets.xyxy) if len(dets) else None
        if len(dets):
            false_positives(names, dets.scores, np.array(im.labels), iou, fps)
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
    return _ranked(out), _ranked(fps)


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
    misses, fps = analyse(detector, ann, args.classes.split(","), args.limit)
    for title, result in (("ground-truth boxes", misses), ("detections at score >= 0.5", fps)):
        print(title)
        for cls, counts in result.items():
            total = sum(counts.values())
            share = ", ".join(f"{k} {v / total:.0%}" for k, v in counts.items()) if total else "-"
            print(f"  {cls:<11} {total:>5}  {share}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ground_truth": misses, "detections": fps}, f, indent=1)


if __name__ == "__main__":
    main()
