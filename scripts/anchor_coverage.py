"""How well a model's anchors fit a dataset's boxes: per class, the share of boxes that some
anchor overlaps at IoU >= 0.5 (where the RPN can start from a positive anchor) and the median
best IoU. Compares anchor aspect-ratio sets on the same boxes.

    python scripts/anchor_coverage.py data/splits/real_test.json --images 25 \
        --ratios 0.25,0.5,1,2 --ratios 0.0625,0.125,0.25,0.5,1
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict

import numpy as np
import torch
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou

from deskvision.data.formats import load_annotations
from deskvision.data.images import image_size
from deskvision.models.factory import ModelConfig, create_model


@torch.inference_mode()
def anchors_for(config: ModelConfig, height: int, width: int) -> torch.Tensor:
    model = create_model(config).eval()
    image = torch.zeros(1, 3, height, width)
    features = list(model.backbone(image).values())
    return model.rpn.anchor_generator(ImageList(image, [(height, width)]), features)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--images", type=int, default=25, help="random sample of this many screenshots (seed 0)")
    parser.add_argument("--ratios", action="append", required=True, help="comma list of height/width ratios; repeat")
    args = parser.parse_args()
    ann = load_annotations(args.data)
    images = random.Random(0).sample(ann.images, min(args.images, len(ann.images)))
    for spec in args.ratios:
        config = ModelConfig(aspect_ratios=tuple(float(r) for r in spec.split(",")))
        cache: dict[tuple[int, int], torch.Tensor] = {}
        best = defaultdict(list)
        for im in images:
            w, h = im.width, im.height
            if w is None or h is None:
                w, h = image_size(ann.root / im.filename)
            scale = min(1.0, config.max_size / max(w, h))  # what the model's transform does
            size = (int(h * scale + 31) // 32 * 32, int(w * scale + 31) // 32 * 32)
            if size not in cache:
                cache[size] = anchors_for(config, *size)
            boxes = torch.as_tensor(im.boxes * scale)
            if len(boxes):
                for label, iou in zip(im.labels, box_iou(boxes, cache[size]).max(dim=1).values.tolist(), strict=True):
                    best[label].append(iou)
        print(f"ratios {spec}: {len(cache[next(iter(cache))])} anchors on the first size")
        for label, values in sorted(best.items()):
            v = np.array(values)
            print(f"  {label:11s} {len(v):5d} boxes  IoU>=0.5: {np.mean(v >= 0.5):.2f}  median best IoU {np.median(v):.2f}")


if __name__ == "__main__":
    main()
