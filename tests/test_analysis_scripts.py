"""The counting of scripts/miss_analysis.py (a benchmark tool: its numbers go into BENCHMARKS.md)."""

import collections
import importlib.util
from pathlib import Path

import numpy as np

from deskvision.detections import box_iou

_spec = importlib.util.spec_from_file_location("miss_analysis", Path(__file__).parents[1] / "scripts" / "miss_analysis.py")
miss_analysis = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(miss_analysis)


def test_false_positives_are_counted_by_what_lies_under_them():
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], np.float64)
    labels = np.array(["launcher", "file", "launcher"])
    dets = np.array(
        [
            [0, 0, 10, 10],  # launcher on the launcher: true
            [0, 0, 10, 11],  # second launcher there: duplicate
            [20, 0, 30, 10],  # launcher on the file
            [40, 0, 54, 10],  # launcher at IoU 0.71 with the other launcher: true
            [100, 100, 110, 110],  # launcher on nothing
            [20, 0, 30, 10],  # file on the file, below 0.5: not counted
        ],
        np.float64,
    )
    names = np.array(["launcher"] * 5 + ["file"])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.4])
    out = {"launcher": collections.Counter(), "file": collections.Counter()}
    miss_analysis.false_positives(names, scores, labels, box_iou(truth, dets), out)
    assert out["launcher"] == {"true": 2, "duplicate": 1, "on:file": 1, "background": 1}
    assert out["file"] == {}
