"""Shared fixtures: tiny generated screenshots (coloured glyphs on flat backgrounds) in VIA."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.via import write_via

torch.set_num_threads(2)

GLYPH_CLASSES = ("folder", "file", "close")
COLORS = {"folder": (230, 180, 40), "file": (40, 90, 220), "close": (220, 40, 40)}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`deskvision ARGS...` in a fresh process, its output captured."""
    return subprocess.run([sys.executable, "-m", "deskvision.cli.main", *args], capture_output=True, text=True, timeout=300)


def make_glyph_screens(root: Path, n: int, seed: int = 0, size: tuple[int, int] = (160, 128)) -> AnnotationSet:
    """`n` screenshots, each with 2-4 non-overlapping glyphs: a yellow folder tab shape, a blue
    page, a red 16-px close cross; written as PNG + VIA ``annotations.json`` under `root`."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images = []
    for i in range(n):
        bg = tuple(rng.randint(200, 245) for _ in range(3)) if i % 2 else tuple(rng.randint(20, 60) for _ in range(3))
        img = Image.new("RGB", size, bg)
        d = ImageDraw.Draw(img)
        boxes, labels, taken = [], [], []
        for _ in range(rng.randint(2, 4)):
            cls = rng.choice(GLYPH_CLASSES)
            s = 16 if cls == "close" else rng.choice([24, 32])
            for _attempt in range(20):
                x, y = rng.randint(2, size[0] - s - 2), rng.randint(2, size[1] - s - 2)
                if all(x + s + 4 < a or c + 4 < x or y + s + 4 < b or d_ + 4 < y for a, b, c, d_ in taken):
                    break
            else:
                continue
            if cls == "folder":
                d.rectangle([x, y, x + s // 2, y + s // 4], fill=COLORS[cls])
                d.rectangle([x, y + s // 5, x + s - 1, y + s - 1], fill=COLORS[cls])
            elif cls == "file":
                d.polygon(
                    [(x, y), (x + s * 0.7, y), (x + s - 1, y + s * 0.3), (x + s - 1, y + s - 1), (x, y + s - 1)], fill=COLORS[cls]
                )
            else:
                d.line([x + 3, y + 3, x + s - 4, y + s - 4], fill=COLORS[cls], width=3)
                d.line([x + 3, y + s - 4, x + s - 4, y + 3], fill=COLORS[cls], width=3)
            taken.append((x, y, x + s, y + s))
            boxes.append([x, y, x + s, y + s])
            labels.append(cls)
        name = f"screen_{i:03d}.png"
        img.save(root / "images" / name)
        images.append(
            ImageAnnotation(
                name,
                np.array(boxes, np.float32).reshape(-1, 4),
                labels,
                *size,
                attributes={"look": "dark" if i % 2 == 0 else "light"},
            )
        )
    ann = AnnotationSet(images, root / "images", str(root))
    write_via(ann, root / "annotations.json")
    return ann


@pytest.fixture
def glyphs(tmp_path: Path) -> Path:
    """Path of a VIA file with 8 glyph screenshots."""
    make_glyph_screens(tmp_path / "glyphs", 8)
    return tmp_path / "glyphs" / "annotations.json"
