"""Train a model's `LabelHead` (file or launcher, from the label under the icon) on annotated
screenshots, and write the model file with it. The detector's weights are not touched.

Examples are the labels under the annotated `file` and `launcher` glyphs, each cropped once as
annotated and `copies - 1` times from a box shifted and scaled as a detector's box may be.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import pil_to_tensor

from deskvision.classes import canonical_name
from deskvision.data import load_annotations
from deskvision.data.images import load_image
from deskvision.errors import DataError
from deskvision.models.io import load_model, save_model, stored_in_half
from deskvision.models.label_head import CROP_SIZE, LabelHead, label_crops
from deskvision.utils.progress import track
from deskvision.utils.runtime import seed_everything

log = logging.getLogger("deskvision")
ICONS = ("file", "launcher")


def label_examples(
    annotations: Sequence[str | Path], copies: int = 3, seed: int = 0, size: tuple[int, int] = CROP_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """(crops (N, 1, *size) float16, targets (N,) 1 = launcher) from annotation files."""
    g = torch.Generator().manual_seed(seed)
    crops, targets = [], []
    for source in annotations:
        data = load_annotations(source)
        for image in track(data.images, f"labels of {Path(source).name}", enabled=sys.stderr.isatty()):
            icons = [(box, canonical_name(label)) for box, label in zip(image.boxes, image.labels, strict=True)]
            icons = [(box, label) for box, label in icons if label in ICONS]
            if not icons:
                continue
            pixels = pil_to_tensor(load_image(data.path(image)))
            boxes = torch.from_numpy(np.asarray([box for box, _ in icons], dtype=np.float32)).repeat(copies, 1)
            extent = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
            n = len(icons)
            shift = (torch.rand(len(boxes), 2, generator=g) - 0.5) * torch.tensor([0.16, 0.2])
            scale = 0.9 + 0.22 * torch.rand(len(boxes), 1, generator=g)
            shift[:n], scale[:n] = 0, 1  # the first copy as annotated
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + shift * extent[:, :2]
            half = extent / 2 * scale
            boxes = torch.cat([centre - half[:, :2], centre + half[:, 2:]], 1)
            crops.append(label_crops(pixels, boxes, size).half())
            targets.append(torch.tensor([label == "launcher" for _, label in icons] * copies, dtype=torch.float32))
    if not crops:
        raise DataError("no file or launcher boxes in the training data: nothing to train a label head on")
    return torch.cat(crops), torch.cat(targets)


@dataclasses.dataclass
class LabelHeadReport:
    examples: int
    launchers: int
    final_loss: float
    validation: dict | None = None


def evaluate_label_head(head: LabelHead, crops: torch.Tensor, targets: torch.Tensor) -> dict:
    """ROC AUC, and at even odds (label evidence alone): launchers recalled, files called launchers."""
    head.eval()
    with torch.no_grad():
        logits = torch.cat([head(crops[i : i + 512].float()) for i in range(0, len(crops), 512)]) - head.prior_logit
    pos, neg = logits[targets == 1], logits[targets == 0]
    auc = float((pos[:, None] > neg[None]).float().mean() + 0.5 * (pos[:, None] == neg[None]).float().mean())
    return {
        "auc": round(auc, 4),
        "launchers_recalled": round(float((pos > 0).float().mean()), 4) if len(pos) else None,
        "files_called_launchers": round(float((neg > 0).float().mean()), 4) if len(neg) else None,
        "examples": len(targets),
    }


def fit_label_head(
    head: LabelHead,
    crops: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
) -> float:
    """Train `head` on (crops, targets) with AdamW and a one-cycle schedule; the last epoch's loss."""
    seed_everything(seed)
    head.train()
    launchers = float(targets.mean())
    head.prior_logit.fill_(math.log(max(launchers, 1e-4) / max(1 - launchers, 1e-4)))
    steps = epochs * math.ceil(len(targets) / batch_size)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr / 1.5, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    loss_sum = 0.0
    for epoch in range(epochs):
        order, loss_sum = torch.randperm(len(targets)), 0.0
        for start in range(0, len(targets), batch_size):
            idx = order[start : start + batch_size]
            x = crops[idx].float()
            # light text on dark ground and dark on light, and contrast
            flip = torch.where(torch.rand(len(x), 1, 1, 1) < 0.3, -1.0, 1.0)
            x = x * flip * (0.8 + 0.4 * torch.rand(len(x), 1, 1, 1))
            loss = F.binary_cross_entropy_with_logits(head(x), targets[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += float(loss.detach()) * len(idx)
        log.info(f"label head epoch {epoch + 1}/{epochs}: loss {loss_sum / len(targets):.4f}")
    head.eval()
    return loss_sum / len(targets)


def train_label_head(
    model_path: str | Path,
    annotations: Sequence[str | Path],
    out: str | Path,
    *,
    val: Sequence[str | Path] = (),
    epochs: int = 6,
    copies: int = 3,
    seed: int = 0,
    size: str = "base",
    half: bool | None = None,
) -> LabelHeadReport:
    """Add a trained `LabelHead` to the model in `model_path` and save it to `out` (the detector's
    weights and settings unchanged); `half`: fp16 storage (None: as the source file)."""
    model, config, meta = load_model(model_path)
    config = dataclasses.replace(config, label_head=True, label_head_size=size)
    try:
        head = LabelHead.for_classes(config.classes, size)
    except ValueError as exc:
        raise DataError(f"{model_path}: {exc}") from None
    crops, targets = label_examples(annotations, copies, seed, head.crop_size)
    loss = fit_label_head(head, crops, targets, epochs=epochs, seed=seed)
    report = LabelHeadReport(len(targets), int(targets.sum()), round(loss, 4))
    if val:
        report.validation = evaluate_label_head(head, *label_examples(val, copies=1, seed=seed, size=head.crop_size))
    model.label_head = head
    half = stored_in_half(model_path) if half is None else half
    recipe = {"data": [str(a) for a in annotations], "epochs": epochs, "copies": copies, "seed": seed, "size": size}
    training = {**meta.get("training", {}), "label_head": {**recipe, **dataclasses.asdict(report)}}
    save_model(model, config, out, training=training, half=half)
    return report
