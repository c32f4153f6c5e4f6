"""Accuracy of one model under the inference pass's choices, from one backbone run per path:
the float input path (torchvision: normalise, then resize) against the uint8 one (`Detector`:
resize in uint8, then normalise), how many RPN proposals are kept after NMS, and how many
samples RoIAlign takes per bin (per side).

    python scripts/inference_variants.py MODEL DATA [--keep 1000,750,500] [--runtime onnx|int8|torch]
        [--uint8-only] [--sampling 2,1] [--limit N] [--json OUT]

Raw detections (threshold 0.05, no filter: what `deskvision evaluate` scores), COCO mAP. The
RPN's proposals come sorted by score, so keeping the first N of the largest count gives exactly
the proposals of a model set to keep N. Choose settings on training screenshots, report them on
held-out ones (docs/default_training/stage7_plan.md, "Inference speed").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.functional import pil_to_tensor

from deskvision.data import load_annotations
from deskvision.data.images import load_image
from deskvision.detections import Detections
from deskvision.evaluation.coco_eval import evaluate_detections
from deskvision.inference import Detector
from deskvision.utils.progress import track
from deskvision.utils.runtime import set_threads


@torch.inference_mode()
def detect(
    model: torch.nn.Module, image: torch.Tensor, keep: list[int], names: tuple[str, ...], sampling: list[int] | None = None
) -> dict[tuple[int, int], Detections]:
    """Raw detections of one image for each proposal count in `keep` and each RoIAlign
    sampling ratio in `sampling` (default: the model's own), keyed ``(count, ratio)``."""
    images, _ = model.transform([image])
    features = model.backbone(images.tensors)
    model.rpn._post_nms_top_n["testing"] = max(keep)
    proposals, _ = model.rpn(images, features)
    pool = model.roi_heads.box_roi_pool
    own = pool.sampling_ratio
    found = {}
    try:
        for ratio in sampling or [own]:
            pool.sampling_ratio = ratio
            for n in keep:
                dets, _ = model.roi_heads(features, [proposals[0][:n]], images.image_sizes)
                dets = model.transform.postprocess(dets, images.image_sizes, [tuple(image.shape[-2:])])
                found[n, ratio] = Detections.from_torchvision(dets[0], names)
    finally:
        pool.sampling_ratio = own
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model file, or 'default' for the shipped one")
    parser.add_argument("data", help="VIA/COCO annotations")
    parser.add_argument("--keep", default="1000,750,500", help="proposal counts after the RPN's NMS")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--runtime", default="onnx", help="what runs the convolutions: torch, onnx or int8")
    parser.add_argument("--uint8-only", action="store_true", help="skip the float input path")
    parser.add_argument("--sampling", default="", help="RoIAlign sampling ratios to compare, e.g. 2,1 (default: the model's)")
    parser.add_argument("--json", help="write the metrics of every variant here")
    args = parser.parse_args()
    set_threads()
    keep = [int(k) for k in args.keep.split(",")]
    sampling = [int(r) for r in args.sampling.split(",") if r]
    detector = Detector.load(None if args.model == "default" else args.model, threshold=0.05, runtime=args.runtime)
    model, names = detector.model, detector.class_names
    ann = load_annotations(args.data)
    images = ann.images[: args.limit or None]
    found: dict[str, list[Detections]] = {}
    gts = []
    for im in track(images, "detecting"):
        u8 = pil_to_tensor(load_image(ann.path(im)))
        paths = (("uint8", u8),) if args.uint8_only else (("float", u8.float().div_(255)), ("uint8", u8))
        for path, tensor in paths:
            counts = keep if path == "uint8" else [max(keep)]
            for (n, ratio), dets in detect(model, tensor, counts, names, sampling).items():
                name = f"{path} input, {n} proposals" + (f", sampling {ratio}" if sampling else "")
                found.setdefault(name, []).append(dets)
        labels = [names.index(label) for label in im.labels]
        gts.append((np.asarray(im.boxes, np.float64).reshape(-1, 4), np.asarray(labels, np.int64)))
    report = {}
    for name, dets in found.items():
        m = evaluate_detections(gts, dets, names[1:])
        report[name] = m.to_dict()
        per = "  ".join(f"{c} {v['ap50']:.3f}" for c, v in m.per_class.items() if c in ("window", "text_field", "maximize"))
        print(f"{name:<28} {len(gts):>4} images  mAP@.5 {m.map50:.4f}  mAP {m.map:.4f}  {per}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
