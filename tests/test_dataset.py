"""ScreenDataset targets, collate, and screen-friendly augmentations."""

from __future__ import annotations

import random

import numpy as np
import torch
from conftest import GLYPH_CLASSES
from PIL import Image

from deskvision.data.dataset import ScreenDataset, collate
from deskvision.data.transforms import ColorJitter, CropKeepingElements, CropTo, ScaleJitter, train_augmentations


def test_targets_as_torchvision_expects(glyphs):
    ds = ScreenDataset.from_file(glyphs, classes=GLYPH_CLASSES)
    img, target = ds[0]
    assert img.dtype == torch.float32 and img.shape == (3, 128, 160) and img.min() >= 0 and img.max() <= 1
    assert target["boxes"].dtype == torch.float32 and target["boxes"].shape[1] == 4
    assert target["labels"].dtype == torch.int64 and set(target["labels"].tolist()) <= {1, 2, 3}
    assert target["image_id"].item() == 0
    assert torch.allclose(
        target["area"], (target["boxes"][:, 2] - target["boxes"][:, 0]) * (target["boxes"][:, 3] - target["boxes"][:, 1])
    )
    assert target["iscrowd"].sum() == 0
    same = ScreenDataset(ds.annotations, GLYPH_CLASSES, uint8=True)[0][0]
    as_fed = ScreenDataset.from_file(glyphs, classes=GLYPH_CLASSES)[0][0]
    assert same.dtype == torch.uint8 and torch.equal(same.float() / 255, as_fed)  # what `Detector` feeds
    images, targets = collate([ds[0], ds[1]])
    assert len(images) == len(targets) == 2


def test_crops_never_cut_small_elements():
    img = Image.new("RGB", (400, 300))
    boxes = np.array([[10, 10, 40, 40], [200, 150, 216, 166], [350, 250, 390, 290], [0, 0, 400, 300]], np.float32)
    labels = np.array([1, 2, 3, 4])
    crop = CropKeepingElements(p=1.0, min_fraction=0.5)
    sizes = {(30, 30), (16, 16), (40, 40)}
    for seed in range(200):
        random.seed(seed)
        out, b, lab = crop(img, boxes, labels)
        for box, label in zip(b, lab, strict=True):
            assert 0 <= box[0] < box[2] <= out.width and 0 <= box[1] < box[3] <= out.height
            if label != 4:  # small elements come out whole
                assert (box[2] - box[0], box[3] - box[1]) in sizes
        assert 4 in lab  # the big "window" stays, clipped to the visible part


def test_fixed_size_crops_keep_whole_elements_and_their_pixels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    # a dense grid of 20-px icons: some places must cut one, and cut ones are never labelled
    boxes = np.array([[x, y, x + 20, y + 20] for x in range(5, 480, 30) for y in range(5, 280, 30)], np.float32)
    labels = np.arange(len(boxes))
    non_empty = 0
    for seed in range(100):
        random.seed(seed)
        out, b, lab = CropTo(size=128)(img, boxes, labels)
        assert out.size == (128, 128)
        for box, label in zip(b, lab, strict=True):
            assert 0 <= box[0] < box[2] <= 128 and 0 <= box[1] < box[3] <= 128
            assert (box[2] - box[0], box[3] - box[1]) == (20, 20)  # whole, never a clipped piece
            x0, y0 = (boxes[label, :2] - box[:2]).astype(int)  # the crop's offset in the screen
            assert np.array_equal(
                np.asarray(out)[int(box[1]) : int(box[3]), int(box[0]) : int(box[2])],
                pixels[y0 + int(box[1]) : y0 + int(box[3]), x0 + int(box[0]) : x0 + int(box[2])],
            )
        non_empty += len(lab) > 0
    assert non_empty == 100
    small = Image.new("RGB", (100, 80))
    out, b, _ = CropTo(size=128)(small, boxes[:1], labels[:1])
    assert out is small and b.tolist() == boxes[:1].tolist()  # smaller screens pass unchanged
    assert len(train_augmentations("none", crop=64).steps) == 1


def test_fixed_size_crops_show_elements_at_the_screen_edges():
    # a trash in the bottom-right corner and a dock at the bottom, among many icons in the middle:
    # uniformly placed crops that avoid cuts would almost never show them
    img = Image.new("RGB", (1920, 1080))
    middle = [[x, y, x + 48, y + 48] for x in range(600, 1300, 80) for y in range(300, 700, 80)]
    dock = [[x, 1040, x + 32, 1072] for x in range(700, 1200, 40)]
    boxes = np.array([*middle, *dock, [1860, 1010, 1908, 1058]], np.float32)
    labels = np.array([1] * len(middle) + [2] * len(dock) + [3])
    seen = {1: 0, 2: 0, 3: 0}
    for seed in range(300):
        random.seed(seed)
        _, b, lab = CropTo(size=800)(img, boxes, labels)
        for c in seen:
            seen[c] += c in lab
    assert seen[3] >= 60 and seen[2] >= 60  # about a third of the crops each (class-balanced targets)
    assert seen[1] >= 60


def test_crops_zoom_out_to_show_a_large_window_whole():
    # a 1500x900 window on a 1920x1080 screen never fits an 800-px crop at scale 1: without
    # zooming out it is always cut (its box ends at the crop's edge); with it, it is seen whole
    pixels = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    boxes = np.array([[200, 100, 1700, 1000], [300, 150, 348, 198]], np.float32)
    labels = np.array([4, 1])
    whole = {1.0: 0, 0.5: 0}
    for min_zoom in whole:
        for seed in range(40):
            random.seed(seed)
            out, b, lab = CropTo(size=800, min_zoom=min_zoom)(img, boxes, labels)
            assert out.width <= 800 and out.height <= 800
            if 4 in lab:
                w, h = b[lab == 4][0, 2:] - b[lab == 4][0, :2]
                whole[min_zoom] += bool(abs(w / h - 1500 / 900) < 0.01 and w < 800)
    assert whole[1.0] == 0
    assert whole[0.5] >= 10  # about half the crops target the window (two classes)
    random.seed(1)
    small = Image.new("RGB", (100, 80))
    assert CropTo(size=128, min_zoom=0.5)(small, boxes[1:] / 10, labels[1:])[0] is small


def test_zoomed_crops_move_boxes_with_pixels():
    img = Image.new("RGB", (1600, 1000), (255, 255, 255))
    img.paste((255, 0, 0), (100, 100, 1500, 900))  # a red "window"
    boxes, labels = np.array([[100, 100, 1500, 900]], np.float32), np.array([4])
    random.seed(3)
    out, b, lab = CropTo(size=800, min_zoom=0.4)(img, boxes, labels)
    x0, y0, x1, y1 = b[0].round().astype(int)
    inside = np.asarray(out)[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2]
    assert (inside == (255, 0, 0)).all()  # the box still frames the red pixels after the zoom
    assert x1 - x0 < 800 and abs((x1 - x0) / (y1 - y0) - 1400 / 800) < 0.02


def test_scale_jitter_moves_boxes_with_pixels():
    random.seed(0)
    img = Image.new("RGB", (200, 100))
    out, b, _ = ScaleJitter(p=1.0, low=0.5, high=0.5)(img, np.array([[20, 10, 60, 50]], np.float32), np.array([1]))
    assert out.size == (100, 50) and b.tolist() == [[10, 5, 30, 25]]


def test_inversion_for_dark_themes():
    random.seed(0)
    img = Image.new("RGB", (4, 4), (250, 250, 250))
    out, _, _ = ColorJitter(brightness=0, contrast=0, saturation=0, invert_p=1.0, gray_p=0)(img, np.zeros((0, 4)), np.zeros(0))
    assert out.getpixel((0, 0)) == (5, 5, 5)
    assert train_augmentations("none") is None
