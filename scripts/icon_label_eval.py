"""Score the icon-label rules (`deskvision.ocr.relabel_icons`) on a model's detections.

    python scripts/icon_label_eval.py MODEL DATA --cache raw.npz [--engine rapidocr]
        [--min-score 0.1] [--limit N] [--json OUT]

The model runs once per screenshot (threshold 0.05, no filter: what `deskvision evaluate`
scores; boxes cached in `--cache`, as scripts/postprocess_eval.py does). The labels under the
icon detections scored at least `--min-score` are read with OCR (cached beside the boxes, in
CACHE.<engine>.json), then each rule is scored with COCO mAP:

  raw          the detector's classes
  extension    an icon labelled with an extension is a file
  both         that, and a file labelled without one is a launcher

and, as a ceiling, the same rules fed the recorded (true) label of the ground-truth icon under
each detection instead of OCR (`oracle-*`; an icon on no labelled icon gets no text).
Also printed: how many files in DATA have no extension, how often OCR's verdict matches the
recorded label's, and the OCR time per screenshot.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from deskvision.data import load_annotations
from deskvision.data.images import load_image
from deskvision.detections import Detections, box_iou
from deskvision.evaluation.coco_eval import evaluate_detections
from deskvision.ocr import create_engine, label_class, read_text, relabel_icons
from deskvision.ocr.reader import ICONS
from deskvision.utils.progress import track
from deskvision.utils.runtime import set_threads

_spec = importlib.util.spec_from_file_location("postprocess_eval", Path(__file__).with_name("postprocess_eval.py"))
postprocess_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(postprocess_eval)

RULES = ("extension", "both")


def read_icon_labels(path: str, dets: Detections, engine, min_score: float) -> list[str | None]:
    """OCR of the label under each icon detection scored >= `min_score` (None elsewhere)."""
    icons = np.flatnonzero(np.isin(dets.labels, ICONS) & (dets.scores >= min_score))
    texts: list[str | None] = [None] * len(dets)
    if len(icons):
        read = read_text(load_image(path), dets[icons], engine, icon_labels="off").elements.text
        for i, t in zip(icons, read, strict=True):
            texts[i] = t
    return texts


def oracle_labels(dets: Detections, boxes: np.ndarray, labels: list[str], texts: list) -> list[str | None]:
    """The recorded text of the labelled icon each icon detection lies on (IoU >= 0.5)."""
    out: list[str | None] = [None] * len(dets)
    gt = [g for g, lab in enumerate(labels) if lab in ICONS]
    if not gt or not len(dets):
        return out
    iou = box_iou(boxes[gt], dets.xyxy)
    for d, name in enumerate(dets.labels):
        if name in ICONS and iou[:, d].max() >= 0.5:
            out[d] = texts[gt[int(np.argmax(iou[:, d]))]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model file, or 'default' for the shipped one")
    parser.add_argument("data", help="VIA/COCO annotations whose icons record their label (harvest, synth)")
    parser.add_argument("--cache", required=True, help="npz file of the raw detections (made if missing)")
    parser.add_argument("--engine", default="rapidocr")
    parser.add_argument("--min-score", type=float, default=0.1, help="read the labels of icons scored at least this")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()
    set_threads()
    ann = load_annotations(args.data)
    found = postprocess_eval.raw_detections(args.model, ann, Path(args.cache), args.limit)
    images = ann.images[: len(found)]
    classes = found[0].class_names[1:] if found else ()

    text_cache = Path(f"{args.cache}.{args.engine}.json")
    seconds: list[float] = []
    if text_cache.is_file() and (cached := json.loads(text_cache.read_text()))["min_score"] == args.min_score:
        read, seconds = cached["texts"], cached["seconds"]
    else:
        engine = create_engine(args.engine)
        read = []
        for im, d in track(list(zip(images, found, strict=True)), "reading labels"):
            t0 = time.perf_counter()
            read.append(read_icon_labels(str(ann.path(im)), d, engine, args.min_score))
            seconds.append(time.perf_counter() - t0)
        text_cache.write_text(json.dumps({"min_score": args.min_score, "texts": read, "seconds": seconds}))

    gts, oracle = [], []
    for im, d in zip(images, found, strict=True):
        boxes = np.asarray(im.boxes, np.float64).reshape(-1, 4)
        gts.append((boxes, np.asarray([classes.index(label) + 1 for label in im.labels], np.int64)))
        oracle.append(oracle_labels(d, boxes, im.labels, im.texts))

    # how often OCR's label gives the same verdict as the recorded one, on icons both exist for
    agree = total = 0
    for d, r, o in zip(found, read, oracle, strict=True):
        for name, t_read, t_true in zip(d.labels, r, o, strict=True):
            if name in ("file", "launcher") and t_true is not None:
                total += 1
                agree += label_class(t_read, "both") == label_class(t_true, "both")
    files = [t for im in images for lab, t in zip(im.labels, im.texts, strict=True) if lab == "file"]
    plain = sum(label_class(t, "extension") is None for t in files)
    print(f"{len(images)} screenshots; {len(files)} labelled files, {plain} without an extension")
    print(f"OCR verdict = recorded label's verdict on {agree} / {total} file/launcher detections on labelled icons")
    print(f"OCR time per screenshot: median {np.median(seconds):.2f} s" if seconds else "no OCR time")

    variants = {"raw": found}
    for rule in RULES:
        variants[rule] = [relabel_icons(dataclasses.replace(d, text=r), rule) for d, r in zip(found, read, strict=True)]
        variants[f"oracle-{rule}"] = [
            relabel_icons(dataclasses.replace(d, text=o), rule) for d, o in zip(found, oracle, strict=True)
        ]
    report = {
        "images": len(images),
        "files": len(files),
        "files_without_extension": plain,
        "ocr_agrees": [agree, total],
        "ocr_seconds_median": float(np.median(seconds)) if seconds else None,
        "min_score": args.min_score,
        "engine": args.engine,
        "metrics": {},
    }
    for name, dets in variants.items():
        m = evaluate_detections(gts, dets, classes)
        report["metrics"][name] = m.to_dict()
        per = "  ".join(f"{c} {m.per_class[c]['ap50']:.3f}" for c in ("file", "launcher") if c in m.per_class)
        print(f"{name:<18} mAP@.5 {m.map50:.3f}  mAP {m.map:.3f}  {per}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
