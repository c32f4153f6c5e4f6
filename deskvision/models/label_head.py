"""The label head: tells files from launchers by the text under their icons, without OCR.

The detector sees an icon's glyph; on icon themes it has never seen it calls about half the
application icons `file` (BENCHMARKS.md, "Where launchers go wrong"). The label under the glyph
says more, whatever the theme: a file is labelled with its name, extension included
(``report.pdf``), a launcher with the application's name. `LabelHead` is a small CNN that reads
the label's pixels (the region under the glyph, never the glyph) and gives the odds that the icon
is a launcher; `relabel` weighs them with the detector's own odds (naive Bayes: the glyph and the
label are two pieces of evidence) and rewrites the `file` and `launcher` scores of each glyph.

It runs inside the model (`ScreenRCNN`), so `deskvision evaluate` scores what `detect` returns.
Training: `deskvision.training.label_head.train_label_head`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import box_iou

#: Label crops come from a region 3.2 glyph widths wide and 1.3 glyph heights high under the
#: glyph (two lines of label text at the usual icon sizes).
REGION = (3.2, 1.3)
#: The head's sizes by name: (crop height, crop width), channels of its four conv blocks.
SIZES: dict[str, tuple[tuple[int, int], tuple[int, ...]]] = {
    "base": ((48, 120), (16, 32, 48, 64)),
    "small": ((32, 80), (8, 16, 32, 64)),  # about a sixth of base's multiply-adds
}
CROP_SIZE = SIZES["base"][0]
# The detector's scores below its score threshold are unknown: a glyph it reports in only one
# of the two classes gets this much of its score in the other.
MISSING_SHARE = 0.025
# luminance weights (ITU-R BT.601)
_GRAY = (0.299, 0.587, 0.114)


def label_regions(boxes: Tensor) -> Tensor:
    """The label region under each glyph box (xyxy): centred, `REGION` times its size."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    half = REGION[0] * w / 2
    return torch.stack([cx - half, boxes[:, 3], cx + half, boxes[:, 3] + REGION[1] * h], 1)


def gray(image: Tensor) -> Tensor:
    """(1, 1, H, W) float luminance in [0, 1] of a (3, H, W) image, uint8 or float in [0, 1]."""
    return _luminance(image[None])


def _luminance(images: Tensor) -> Tensor:
    """(N, 1, H, W) float luminance in [0, 1] of (N, 3, H, W) images, uint8 or float in [0, 1]."""
    scale = 255.0 if images.dtype == torch.uint8 else 1.0
    weights = torch.tensor(_GRAY, device=images.device).view(1, 3, 1, 1) / scale
    return (images[:, :3].float() * weights).sum(1, keepdim=True)


def label_crops(image: Tensor, boxes: Tensor, size: tuple[int, int] = CROP_SIZE) -> Tensor:
    """(K, 1, *size) standardised luminance crops of the labels under `boxes` (xyxy) in a
    (3, H, W) image, uint8 or float in [0, 1].

    The same numbers as torchvision's ``roi_align(gray(image), ..., sampling_ratio=2,
    aligned=True)``: each output pixel averages 2×2 bilinear samples, the edge pixels repeated up
    to one pixel beyond the image and zeros further out; but only equal-sized patches of the image
    around the labels are converted to luminance, and one `grid_sample` call samples them all
    (about 4× faster than `roi_align` at 1080p, where the luminance of the whole screenshot
    alone costs more than the head)."""
    if boxes.shape[0] == 0:
        return torch.zeros((0, 1, *size), device=image.device)
    regions = label_regions(boxes.float())
    (h_out, w_out), (height, width) = size, image.shape[-2:]
    # sample points in pixel-index coordinates (pixel i covers [i, i + 1))
    sy = (torch.arange(2 * h_out, device=image.device) + 0.5) / (2 * h_out)
    sx = (torch.arange(2 * w_out, device=image.device) + 0.5) / (2 * w_out)
    ys = regions[:, 1:2] + (regions[:, 3:4] - regions[:, 1:2]) * sy - 0.5
    xs = regions[:, 0:1] + (regions[:, 2:3] - regions[:, 0:1]) * sx - 0.5
    inside = ((ys >= -1) & (ys <= height))[:, None, :, None] & ((xs >= -1) & (xs <= width))[:, None, None, :]
    # one patch size for all: the pixels every label's bilinear samples touch, clamped to the
    # image; a patch that would cross the image's edge is moved inside, so that it reaches the
    # edge exactly where its samples do ("border" padding then repeats the image's edge pixels)
    y0, x0 = ys[:, 0].floor().clamp(min=0), xs[:, 0].floor().clamp(min=0)
    patch_h = min(max(int(((ys[:, -1].floor() + 2).clamp(max=height) - y0).max()), 1), height)
    patch_w = min(max(int(((xs[:, -1].floor() + 2).clamp(max=width) - x0).max()), 1), width)
    y0, x0 = y0.clamp(max=height - patch_h), x0.clamp(max=width - patch_w)
    patches = torch.stack(
        [image[:3, a : a + patch_h, b : b + patch_w] for a, b in zip(y0.long().tolist(), x0.long().tolist(), strict=True)]
    )
    gy = (ys - y0[:, None] + 0.5) / patch_h * 2 - 1
    gx = (xs - x0[:, None] + 0.5) / patch_w * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), -1)
    samples = F.grid_sample(_luminance(patches), grid, padding_mode="border", align_corners=False) * inside
    crops = F.avg_pool2d(samples, 2)
    # dark text on light ground or light on dark: only the contrast matters
    mean, std = crops.mean((2, 3), keepdim=True), crops.std((2, 3), keepdim=True)
    return (crops - mean) / (std + 0.05)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class LabelHead(nn.Module):
    """A small CNN: label crop → logit that the icon is a launcher rather than a file."""

    def __init__(self, file_label: int, launcher_label: int, size: str = "base"):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown label head size {size!r}: choose one of {', '.join(SIZES)}")
        self.file_label, self.launcher_label = file_label, launcher_label
        self.crop_size, (a, b, c, d) = SIZES[size]
        self.net = nn.Sequential(
            _block(1, a), nn.MaxPool2d(2), _block(a, b), nn.MaxPool2d(2), _block(b, c), nn.MaxPool2d(2),
            _block(c, d), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(d, 1),
        )  # fmt: skip
        # log-odds of a launcher among the training labels: the evidence of a label is its
        # logit minus this prior
        self.register_buffer("prior_logit", torch.zeros(()))

    @classmethod
    def for_classes(cls, classes: Sequence[str], size: str = "base") -> LabelHead:
        """The head of a model with these classes (background excluded); ValueError if they lack
        file or launcher, or if `size` is unknown."""
        if not {"file", "launcher"} <= set(classes):
            raise ValueError("a label head needs the classes file and launcher")
        return cls(list(classes).index("file") + 1, list(classes).index("launcher") + 1, size)

    def forward(self, crops: Tensor) -> Tensor:
        return self.net(crops)[:, 0]

    @torch.no_grad()
    def relabel(
        self, image: Tensor, detections: dict[str, Tensor], score_thresh: float = 0.05, max_detections: int = 300
    ) -> dict[str, Tensor]:
        """`detections` (torchvision's output for `image`, in its pixels) with the `file` and
        `launcher` scores of each glyph weighed by its label; other classes unchanged.

        The file and launcher detections of one glyph (IoU ≥ 0.5) share their total score (at
        most 1): the launcher share ``r`` becomes ``sigmoid(logit(r) + label logit - prior)``. A glyph
        reported in one class only gets `MISSING_SHARE` of its score in the other; the
        `max_detections` best-scored detections whose new score reaches `score_thresh` are kept."""
        boxes, labels, scores = detections["boxes"], detections["labels"], detections["scores"]
        files = torch.where(labels == self.file_label)[0]
        launchers = torch.where(labels == self.launcher_label)[0]
        if len(files) + len(launchers) == 0:
            return detections
        pairs = torch.tensor(_pair(boxes[files], boxes[launchers], scores[files], scores[launchers]), device=labels.device)
        has_file, has_launcher = pairs[:, 0] >= 0, pairs[:, 1] >= 0
        f = files[pairs[:, 0].clamp(min=0)] if len(files) else launchers[pairs[:, 1]]
        la = launchers[pairs[:, 1].clamp(min=0)] if len(launchers) else f
        f, la = torch.where(has_file, f, la), torch.where(has_launcher, la, f)  # a missing class: the other's box
        file_score, launcher_score = scores[f] * has_file, scores[la] * has_launcher
        total = file_score + launcher_score
        file_score = torch.where(has_file, file_score, total * MISSING_SHARE)
        launcher_score = torch.where(has_launcher, launcher_score, total * MISSING_SHARE)
        glyphs = torch.where((file_score >= launcher_score)[:, None], boxes[f], boxes[la])
        # two boxes of one glyph can together score above 1 (two proposals): a score stays ≤ 1
        total = total.clamp(max=1.0)
        evidence = self(label_crops(image, glyphs, self.crop_size)) - self.prior_logit
        share = torch.sigmoid(torch.logit(launcher_score / (file_score + launcher_score)) + evidence)
        others = torch.ones(len(labels), dtype=torch.bool, device=labels.device)
        others[files] = others[launchers] = False
        out_boxes = torch.cat([boxes[others], boxes[f], boxes[la]])
        new_file, new_launcher = labels.new_full((len(f),), self.file_label), labels.new_full((len(la),), self.launcher_label)
        out_labels = torch.cat([labels[others], new_file, new_launcher])
        out_scores = torch.cat([scores[others], (total * (1 - share)).to(scores.dtype), (total * share).to(scores.dtype)])
        keep = torch.where(out_scores >= score_thresh)[0]
        keep = keep[torch.argsort(out_scores[keep], descending=True)][:max_detections]
        return {**detections, "boxes": out_boxes[keep], "labels": out_labels[keep], "scores": out_scores[keep]}


def _pair(file_boxes: Tensor, launcher_boxes: Tensor, file_scores: Tensor, launcher_scores: Tensor) -> list[tuple[int, int]]:
    """Match the file and launcher detections of the same glyphs (greedy by score, IoU ≥ 0.5):
    (file index, launcher index), -1 where a glyph has only one."""
    iou = box_iou(file_boxes, launcher_boxes) if len(file_boxes) and len(launcher_boxes) else None
    pairs: list[tuple[int, int]] = []
    taken: set[int] = set()
    for f in torch.argsort(file_scores, descending=True).tolist():
        best = -1
        if iou is not None:
            for candidate in torch.argsort(iou[f], descending=True).tolist():
                if iou[f, candidate] < 0.5:
                    break
                if candidate not in taken:
                    best = candidate
                    break
        if best >= 0:
            taken.add(best)
        pairs.append((f, best))
    pairs += [(-1, la) for la in range(len(launcher_boxes)) if la not in taken]
    return pairs
