"""Robustness of a model (BENCHMARKS.md, "Default model"): accuracy on subsets of a labelled
test set (dark looks, HiDPI screens, JPEG-compressed copies) and false positives on empty
desktops (plain and gradient wallpapers, 800x600 to 3840x2160; with --wallpapers, also real
wallpaper pictures at 1920x1080), counted with and without the featureless-window filter.

    python scripts/robustness.py MODEL data/splits/real_test.json [--json out.json] [--parts dark,hidpi,empty]
        [--wallpapers DIR]

The wallpapers of BENCHMARKS.md are Debian's gnome-backgrounds and mate-backgrounds, unpacked
without installing them (installed, `deskvision synth` would draw them too):
    apt-get download gnome-backgrounds mate-backgrounds && for f in *.deb; do dpkg -x $f walls; done
"""

from __future__ import annotations

import argparse
import io
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms.functional import pil_to_tensor

from deskvision.data.dataset import ScreenDataset
from deskvision.data.formats import load_annotations
from deskvision.evaluation import evaluate
from deskvision.inference import Detector


class _Jpeg(ScreenDataset):
    """The same screenshots, JPEG-compressed (quality 75) on the fly, as uint8 tensors (what
    `Detector` feeds the model)."""

    def __getitem__(self, idx):
        img, target = super().__getitem__(idx)
        pil = Image.fromarray(img.permute(1, 2, 0).numpy())  # made with uint8=True
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=75)
        return pil_to_tensor(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), target


def _wallpaper(size: tuple[int, int], rng: random.Random) -> Image.Image:
    w, h = size
    a, b = np.array([rng.randint(0, 255) for _ in range(3)]), np.array([rng.randint(0, 255) for _ in range(3)])
    if rng.random() < 0.5:
        return Image.new("RGB", size, tuple(int(v) for v in a))
    t = np.linspace(0, 1, h)[:, None, None]
    return Image.fromarray(np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--json")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--parts", default="all,dark,hidpi,jpeg,empty", help="which measurements, comma-separated")
    p.add_argument("--wallpapers", help="a folder of wallpaper pictures (jpg, png, webp), searched recursively")
    args = p.parse_args()
    parts = set(args.parts.split(","))
    torch.set_num_threads(2)
    detector = Detector.load(args.model, threshold=args.threshold)
    unfiltered = Detector.load(args.model, threshold=args.threshold, min_window_edges=None)
    ann = load_annotations(args.data)
    ann.validate()
    ann.map_labels(detector.classes)
    dark = [
        i
        for i, im in enumerate(ann.images)
        if "dark" in im.attributes.get("gtk_theme", "").lower() or im.attributes.get("colors") == "dark"
    ]
    hidpi = [i for i, im in enumerate(ann.images) if im.attributes.get("scale") == "2"]
    report = {}
    for part, name, subset in (
        ("all", "all", ann),
        ("dark", "dark looks", ann.subset(dark)),
        ("hidpi", "HiDPI (scale 2)", ann.subset(hidpi)),
    ):
        if part in parts and len(subset):
            m = evaluate(detector.model, ScreenDataset(subset, detector.classes, uint8=True))
            report[name] = {"images": len(subset), "map": m.map, "map50": m.map50}
    if "jpeg" in parts:
        m = evaluate(detector.model, _Jpeg(ann, detector.classes, uint8=True))
        report["JPEG quality 75"] = {"images": len(ann), "map": m.map, "map50": m.map50}
    if "empty" in parts:
        rng = random.Random(0)
        sizes = [(800, 600), (1280, 720), (1366, 768), (1920, 1080), (2560, 1440), (3840, 2160)]
        walls = {f"{w}x{h}": [_wallpaper((w, h), rng) for _ in range(5)] for w, h in sizes}
        report["false positives on 5 empty desktops per size"] = {k: sum(len(detector(im)) for im in v) for k, v in walls.items()}
        report["the same without the featureless-window filter"] = {
            k: sum(len(unfiltered(im)) for im in v) for k, v in walls.items()
        }
    if args.wallpapers:
        files = sorted(f for f in Path(args.wallpapers).rglob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
        counts, raw, per_class = [], 0, Counter()
        for f in files:
            im = ImageOps.fit(Image.open(f).convert("RGB"), (1920, 1080))
            found = detector(im)
            counts.append(len(found))
            per_class.update(found.labels)
            raw += len(unfiltered(im))
        report["false positives on real wallpapers (1920x1080)"] = {
            "wallpapers": len(files),
            "false boxes": sum(counts),
            "wallpapers with none": sum(c == 0 for c in counts),
            "per class": dict(per_class.most_common()),
            "false boxes without the featureless-window filter": raw,
        }
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
