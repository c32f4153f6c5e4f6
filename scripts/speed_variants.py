"""Accuracy and CPU latency of one trained model under cheaper inference settings (fewer RPN
proposals kept before/after NMS, a smaller input), for BENCHMARKS.md ("Default model").

    python scripts/speed_variants.py MODEL data/splits/real_test.json [--images 60] [--runs 5]
        [--variant PRE,POST,MAX_SIDE ...]   (default: the table below)   [--where KEY=VALUE]

--where keeps the screenshots with that file attribute (e.g. scale=2: the HiDPI ones).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from deskvision.data.dataset import ScreenDataset
from deskvision.data.formats import load_annotations
from deskvision.evaluation import evaluate
from deskvision.inference import Detector
from deskvision.models.factory import ScreenTransform

VARIANTS = {
    "as trained (1000 / 500 proposals, max side 1920)": (1000, 500, 1920),
    "500 / 300 proposals": (500, 300, 1920),
    "250 / 150 proposals": (250, 150, 1920),
    "500 / 300 proposals, max side 1600": (500, 300, 1600),
    "300 / 200 proposals, max side 1600": (300, 200, 1600),
    "500 / 300 proposals, max side 1440": (500, 300, 1440),
    "300 / 200 proposals, max side 1440": (300, 200, 1440),
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--images", type=int, default=60)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--variant", action="append", default=[], help="PRE,POST,MAX_SIDE: proposals before / after NMS, long side")
    p.add_argument("--where", help="KEY=VALUE: only screenshots with this file attribute (e.g. scale=2)")
    args = p.parse_args()
    variants = VARIANTS
    if args.variant:
        parsed = [tuple(int(x) for x in v.split(",")) for v in args.variant]
        variants = {f"{pre} / {post} proposals, max side {side}": (pre, post, side) for pre, post, side in parsed}
    torch.set_num_threads(2)
    ann = load_annotations(args.data)
    ann.validate()
    big = [i for i, im in enumerate(ann.images) if (im.width, im.height) == (1920, 1080)]
    with open(ann.path(ann.images[big[0]]), "rb") as f:
        shot = f.read()
    if args.where:
        key, _, value = args.where.partition("=")
        ann = ann.subset([i for i, im in enumerate(ann.images) if im.attributes.get(key) == value])
    subset = ann.subset(range(min(args.images, len(ann))))
    rows = []
    for name, (pre, post, max_size) in variants.items():
        detector = Detector.load(args.model)
        rpn = detector.model.rpn
        rpn._pre_nms_top_n["testing"], rpn._post_nms_top_n["testing"] = pre, post
        detector.model.transform = ScreenTransform(max_size)
        subset.map_labels(detector.classes)
        m = evaluate(detector.model, ScreenDataset(subset, detector.classes, uint8=True))
        detector(shot)  # warm-up
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            detector(shot)
            times.append(time.perf_counter() - t0)
        per_class = {c: round(v["ap50"], 3) for c, v in m.per_class.items()}
        ms = 1000 * statistics.median(times)
        rows.append({"variant": name, "map": m.map, "map50": m.map50, "median_ms_1920x1080": ms, "ap50": per_class})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
