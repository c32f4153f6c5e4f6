"""The label head: file/launcher scores weighed by the label under each icon, its training on
annotated screenshots, the model file that carries it, and its command's errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image, ImageDraw
from torchvision.ops import roi_align

from deskvision.data.annotations import AnnotationSet, ImageAnnotation
from deskvision.data.via import write_via
from deskvision.errors import ModelError
from deskvision.inference import Detector
from deskvision.models import ModelConfig, create_model, load_model, save_model
from deskvision.models.io import stored_in_half
from deskvision.models.label_head import LabelHead, gray, label_crops, label_regions

CLASSES = ("folder", "file", "launcher")
FOLDER, FILE, LAUNCHER = 1, 2, 3  # model labels: 0 is the background


class FixedHead(LabelHead):
    """Reads every label as the same evidence."""

    def __init__(self, logit: float):
        super().__init__(FILE, LAUNCHER)
        self.logit = logit

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return torch.full((len(crops),), self.logit)


def _found() -> dict[str, torch.Tensor]:
    # glyph A: file 0.6 and launcher 0.3 on one box; glyph B: file only; a folder
    boxes = torch.tensor([[10, 10, 42, 42], [11, 10, 42, 43], [100, 10, 132, 42], [200, 10, 232, 42]], dtype=torch.float32)
    return {
        "boxes": boxes,
        "labels": torch.tensor([FILE, LAUNCHER, FILE, FOLDER]),
        "scores": torch.tensor([0.6, 0.3, 0.8, 0.9]),
    }


def _by_glyph(out: dict[str, torch.Tensor]) -> dict[tuple[int, int], float]:
    return {(int(b[0]) // 50, int(lab)): float(s) for b, lab, s in zip(out["boxes"], out["labels"], out["scores"], strict=True)}


def test_label_evidence_moves_each_glyphs_score_between_file_and_launcher():
    image = torch.zeros(3, 80, 260, dtype=torch.uint8)
    launcher_like = _by_glyph(FixedHead(10.0).relabel(image, _found()))
    assert launcher_like[(0, LAUNCHER)] == pytest.approx(0.9, abs=1e-3)  # A's total, nearly all launcher
    assert (0, FILE) not in launcher_like  # its file share fell under the score threshold
    assert launcher_like[(2, LAUNCHER)] == pytest.approx(0.8, abs=2e-3)  # B had no launcher box: now it has
    assert launcher_like[(4, FOLDER)] == pytest.approx(0.9)  # other classes untouched
    file_like = _by_glyph(FixedHead(-10.0).relabel(image, _found()))
    assert file_like[(0, FILE)] == pytest.approx(0.9, abs=1e-3) and (0, LAUNCHER) not in file_like
    assert file_like[(2, FILE)] == pytest.approx(0.8, abs=1e-3)
    neutral = _by_glyph(FixedHead(0.0).relabel(image, _found()))  # no evidence: the detector's odds
    assert neutral[(0, FILE)] == pytest.approx(0.6, abs=1e-4) and neutral[(0, LAUNCHER)] == pytest.approx(0.3, abs=1e-4)
    out = FixedHead(10.0).relabel(image, _found(), max_detections=2)
    assert out["scores"].tolist() == sorted(out["scores"].tolist(), reverse=True) and len(out["scores"]) == 2
    sure = {**_found(), "scores": torch.tensor([0.9, 0.6, 0.8, 0.9])}  # two proposals of glyph A: 1.5 together
    split = _by_glyph(FixedHead(0.0).relabel(image, sure))
    assert split[(0, FILE)] == pytest.approx(0.6, abs=1e-4) and split[(0, LAUNCHER)] == pytest.approx(0.4, abs=1e-4)
    assert FixedHead(10.0).relabel(image, sure)["scores"].max() <= 1.0
    nothing = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long), "scores": torch.zeros(0)}
    assert len(FixedHead(10.0).relabel(image, nothing)["boxes"]) == 0


def test_label_crops_look_under_the_glyph_and_ignore_polarity():
    glyph = torch.tensor([[40.0, 20.0, 72.0, 52.0]])
    region = label_regions(glyph)[0].tolist()
    assert region[1] == 52.0 and region[3] > 52.0  # below the glyph, centred on it
    assert (region[0] + region[2]) / 2 == pytest.approx(56.0) and region[2] - region[0] > 32
    light = torch.full((3, 120, 120), 0.9)
    light[:, 60:70, 30:80] = 0.1  # dark text under the glyph
    dark = 1 - light
    a, b = label_crops(light, glyph), label_crops(dark, glyph)
    assert a.shape == (1, 1, 48, 120) and label_crops(light, glyph, (32, 80)).shape == (1, 1, 32, 80)
    torch.testing.assert_close(a, -b, atol=1e-4, rtol=1e-4)  # standardised: only the contrast counts
    light[:, :51, :] = 0.5  # the glyph and what is above it are never read (row 51 is blended in)
    torch.testing.assert_close(label_crops(light, glyph), a)
    uint8 = (light * 255).round().to(torch.uint8)
    torch.testing.assert_close(label_crops(uint8, glyph), label_crops(uint8.float() / 255, glyph), atol=1e-4, rtol=1e-4)


def test_label_crops_are_torchvisions_roi_align_of_the_luminance():
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, 90, 160), generator=g, dtype=torch.uint8)
    corner = torch.rand(40, 2, generator=g) * torch.tensor([200.0, 130.0]) - 20  # some labels cross the edges
    side = 8 + 40 * torch.rand(40, 1, generator=g)
    glyphs = torch.cat([corner, corner + side], 1)
    rois = torch.cat([torch.zeros(40, 1), label_regions(glyphs)], 1)
    want = roi_align(gray(image), rois, (48, 120), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    want = (want - want.mean((2, 3), keepdim=True)) / (want.std((2, 3), keepdim=True) + 0.05)
    torch.testing.assert_close(label_crops(image, glyphs), want, atol=2e-3, rtol=1e-3)


def _icon_screens(root: Path, n: int, seed: int = 0) -> Path:
    """Screens with grey 32-px icons, all alike: a file's label is a name and a short extension
    (two dark bars), a launcher's one bar."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images = []
    for i in range(n):
        img = Image.new("RGB", (320, 160), (235, 235, 235) if i % 2 else (40, 60, 90))
        ink = (30, 30, 30) if i % 2 else (240, 240, 240)
        d = ImageDraw.Draw(img)
        boxes, labels = [], []
        for k in range(4):
            x, y = 20 + 75 * k + rng.randint(0, 8), 30 + rng.randint(0, 40)
            d.rectangle([x, y, x + 31, y + 31], fill=(128, 128, 128))
            label = rng.choice(["file", "launcher"])
            width = rng.randint(30, 46)
            left, top = x + 16 - width // 2, y + 36
            if label == "file":
                d.rectangle([left, top, left + width - 14, top + 6], fill=ink)
                d.rectangle([left + width - 9, top, left + width, top + 6], fill=ink)
            else:
                d.rectangle([left, top, left + width, top + 6], fill=ink)
            boxes.append([x, y, x + 32, y + 32])
            labels.append(label)
        img.save(root / "images" / f"s{i:02d}.png")
        images.append(ImageAnnotation(f"s{i:02d}.png", np.array(boxes, np.float32), labels, 320, 160))
    write_via(AnnotationSet(images, root / "images", str(root)), root / "annotations.json")
    return root / "annotations.json"


def test_train_label_head_learns_labels_and_writes_a_model_that_detects_with_it(tmp_path):
    train, val = _icon_screens(tmp_path / "train", 24), _icon_screens(tmp_path / "val", 8, seed=1)
    torch.manual_seed(0)
    cfg = ModelConfig(classes=CLASSES)
    detector = create_model(cfg)
    save_model(detector, cfg, tmp_path / "m.safetensors", half=True)
    out = tmp_path / "with_head.safetensors"
    source = str(tmp_path / "m.safetensors")
    proc = run_cli(
        "train-label-head", source, str(train), "--val", str(val), "--out", str(out), "--epochs", "8", "--size", "small"
    )
    assert proc.returncode == 0, proc.stderr
    validation = json.loads(proc.stdout.split("validation: ")[1])
    assert validation["auc"] > 0.95 and validation["examples"] == 32, validation
    model, config, meta = load_model(out)
    assert config.label_head and config.label_head_size == "small" and isinstance(model.label_head, LabelHead)
    assert model.label_head.crop_size == (32, 80)
    assert stored_in_half(out)  # as its source file
    assert meta["training"]["label_head"]["validation"] == validation
    assert model.label_head.prior_logit != 0  # the training labels' launcher odds
    reference = load_model(tmp_path / "m.safetensors")[0].state_dict()
    for name, tensor in model.state_dict().items():  # the detector itself is untouched
        if not name.startswith("label_head."):
            torch.testing.assert_close(tensor, reference[name])
    found = Detector.load(out, threshold=0.0, runtime="torch")(tmp_path / "val" / "images" / "s00.png")
    assert tuple(found.class_names[-3:]) == CLASSES


def test_label_head_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="needs the classes file and launcher"):
        create_model(ModelConfig(classes=("folder", "close"), label_head=True))
    with pytest.raises(ModelError, match="unknown label head size 'huge'"):
        create_model(ModelConfig(classes=CLASSES, label_head=True, label_head_size="huge"))
    cfg = ModelConfig(classes=("folder", "close"))
    save_model(create_model(cfg), cfg, tmp_path / "m.safetensors")
    train = _icon_screens(tmp_path / "d", 2)
    proc = run_cli("train-label-head", str(tmp_path / "m.safetensors"), str(train), "--out", str(tmp_path / "o.safetensors"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "a label head needs the classes file and launcher" in proc.stderr, proc.stderr
    cfg = ModelConfig(classes=CLASSES)
    save_model(create_model(cfg), cfg, tmp_path / "m.safetensors")
    folders = tmp_path / "d" / "folders.json"
    folders.write_text(train.read_text().replace('"file"', '"folder"').replace('"launcher"', '"folder"'))
    proc = run_cli("train-label-head", str(tmp_path / "m.safetensors"), str(folders), "--out", str(tmp_path / "o.safetensors"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no file or launcher boxes" in proc.stderr, proc.stderr
    proc = run_cli(
        "train-label-head", str(tmp_path / "missing.safetensors"), str(train), "--out", str(tmp_path / "o.safetensors")
    )
    assert proc.returncode != 0 and "model file not found" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.safetensors").exists()
