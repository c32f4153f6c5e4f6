"""Compare the CPU runtimes of one model file, interleaved in one process so that a machine whose
speed drifts affects them alike: PyTorch with the default (NCHW) tensor layout, PyTorch
channels-last, and ONNX Runtime for the convolutions (needs the model's ONNX export), float and
int8 (`export-onnx --int8`; what `Detector` uses on CPU when there). End to end from PNG bytes,
as `deskvision bench` times it.

    python scripts/runtime_speed.py deskvision/weights/default.safetensors \
        data/real/images/real_1_000070.png --runs 15 [--runtimes onnx,int8] [--keep 1000,750,500] [--sampling 2,1] \
        [--pooling gather,torchvision] [--label-head on,off]

With --passes, the inference passes instead (ONNX Runtime): torchvision's RPN, and ours that
decodes only the anchors it keeps (what `Detector` uses; BENCHMARKS.md, "a leaner inference pass").
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.ops import MultiScaleRoIAlign

from deskvision.detections import box_iou
from deskvision.inference import Detector
from deskvision.utils.runtime import set_threads


def runtimes(
    model: str, names: list[str], keep: list[int], sampling: list[int], pooling: list[str], heads: list[str]
) -> dict[str, Detector]:
    """`names` among torch-nchw, torch (channels-last), onnx, int8; each with each proposal count
    in `keep` (kept after the RPN's NMS), each RoIAlign sampling ratio in `sampling`, each
    RoIAlign pass in `pooling` (``gather``: `GatherRoIAlign`, ``torchvision``: its
    `MultiScaleRoIAlign`) and the model's label head ``on`` or ``off`` (`heads`); empty lists:
    the model's own."""
    found = {}
    grid = itertools.product(names, keep or [None], sampling or [None], pooling or [None], heads or [None])
    for name, n, ratio, pool, head in grid:
        detector = Detector.load(model, runtime=name.removesuffix("-nchw"))
        if name == "torch-nchw":
            detector.model.to(memory_format=torch.contiguous_format)  # undo Detector's channels-last
        label = name
        if n is not None:
            detector.model.rpn._post_nms_top_n["testing"] = n
            label += f", {n} proposals"
        if ratio is not None:
            detector.model.roi_heads.box_roi_pool.sampling_ratio = ratio
            label += f", sampling {ratio}"
        if pool == "torchvision":
            own = detector.model.roi_heads.box_roi_pool
            detector.model.roi_heads.box_roi_pool = MultiScaleRoIAlign(own.featmap_names, own.output_size, own.sampling_ratio)
        if pool is not None:
            label += f", {pool} RoIAlign"
        if head == "off":
            detector.model.label_head = None
        if head is not None:
            label += f", label head {head}"
        found[label] = detector
    return found


def passes(model: str) -> dict[str, Detector]:
    torchvision = Detector.load(model, runtime="onnx")
    torchvision.model.rpn.__class__ = RegionProposalNetwork  # torchvision's own pass, same modules and settings
    return {"torchvision RPN": torchvision, "lean RPN (Detector)": Detector.load(model, runtime="onnx")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("image")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--passes", action="store_true", help="compare the inference passes, not the runtimes")
    parser.add_argument("--runtimes", default="torch-nchw,torch,onnx,int8", help="which runtimes to compare")
    parser.add_argument("--keep", default="", help="proposal counts after the RPN's NMS to compare, e.g. 1000,750,500")
    parser.add_argument("--sampling", default="", help="RoIAlign sampling ratios to compare, e.g. 2,1")
    parser.add_argument("--pooling", default="", help="RoIAlign passes to compare: gather (the model's), torchvision")
    parser.add_argument("--label-head", default="", help="with the model's label head (on) and/or without (off)")
    args = parser.parse_args()
    set_threads()
    data = Path(args.image).read_bytes()
    keep = [int(k) for k in args.keep.split(",") if k]
    sampling = [int(r) for r in args.sampling.split(",") if r]
    pooling = [p for p in args.pooling.split(",") if p]
    if set(pooling) - {"gather", "torchvision"}:
        parser.error("--pooling takes gather and/or torchvision")
    heads = [h for h in args.label_head.split(",") if h]
    if set(heads) - {"on", "off"}:
        parser.error("--label-head takes on and/or off")
    variants = (
        passes(args.model) if args.passes else runtimes(args.model, args.runtimes.split(","), keep, sampling, pooling, heads)
    )
    reference = next(iter(variants.values()))(data)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, detector in variants.items():
        found = detector(data)  # warm-up, and how far its boxes are from the first variant's
        iou = box_iou(reference.xyxy, found.xyxy) if len(found) and len(reference) else np.zeros((0, 0))
        moved = int((iou.max(axis=1) < 0.99).sum()) if iou.size else abs(len(found) - len(reference))
        same = np.array_equal(found.xyxy, reference.xyxy) and np.array_equal(found.scores, reference.scores)
        print(f"{name}: {len(found)} elements, {moved} of {len(reference)} reference boxes without a twin (IoU >= 0.99)", end="")
        print(f", identical: {same}")
    for _ in range(args.runs):
        for name, detector in variants.items():
            t0 = time.perf_counter()
            detector(data)
            times[name].append((time.perf_counter() - t0) * 1000)
    for name, values in times.items():
        print(f"{name:30s} median {statistics.median(values):.0f} ms  (min {min(values):.0f}, max {max(values):.0f})")


if __name__ == "__main__":
    main()
