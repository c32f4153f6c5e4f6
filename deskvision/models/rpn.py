"""torchvision's region proposal network with leaner passes, same proposals and losses.

torchvision decodes a box for every anchor (about 1.4 M on a 1600-px screenshot with our 10
anchors per position at stride 4) and only then keeps the best `pre_nms_top_n` per feature level.
Here the best anchors of each level are chosen on their objectness first and only those are
decoded; the anchors of a given input and feature size are computed once and reused. The
proposals are those of torchvision's pass (`tests/test_models.py` compares them), up to ties in
objectness.

In training, torchvision also builds the IoU matrix of every ground-truth box with every anchor
(with its temporaries, over a gigabyte for a batch of four 800-px crops, and half of a training
step's page faults) and encodes a regression target for every anchor, where the loss reads a
few hundred (BENCHMARKS.md, "A leaner training step"). Here the matrix is built a slice of
anchors at a time, and only the sampled positive anchors are encoded: the same matches, the
same random draws of the sampler, the same losses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, concat_box_prediction_layers
from torchvision.ops import boxes as box_ops


class SelectiveRPN(RegionProposalNetwork):
    """`RegionProposalNetwork` that decodes only the anchors it keeps and, in training, matches
    anchors in slices and encodes only the targets its loss reads."""

    _anchor_cache: tuple | None = None  # (input and feature sizes, the anchors of one image)

    @classmethod
    def like(cls, rpn: RegionProposalNetwork) -> SelectiveRPN:
        """The same network (same modules and settings) with this class's inference."""
        return cls(
            rpn.anchor_generator,
            rpn.head,
            fg_iou_thresh=rpn.proposal_matcher.high_threshold,
            bg_iou_thresh=rpn.proposal_matcher.low_threshold,
            batch_size_per_image=rpn.fg_bg_sampler.batch_size_per_image,
            positive_fraction=rpn.fg_bg_sampler.positive_fraction,
            pre_nms_top_n=dict(rpn._pre_nms_top_n),
            post_nms_top_n=dict(rpn._post_nms_top_n),
            nms_thresh=rpn.nms_thresh,
            score_thresh=rpn.score_thresh,
        )

    def forward(
        self, images: ImageList, features: dict[str, Tensor], targets: list[dict[str, Tensor]] | None = None
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        feats = list(features.values())
        objectness, deltas = self.head(feats)
        anchors = self._anchors(images, feats)
        boxes, scores, levels = [], [], []
        offset = 0
        for level, (obj, delta) in enumerate(zip(objectness, deltas, strict=True)):
            obj, delta = obj.detach(), delta.detach()  # Faster R-CNN does not backprop through proposals
            n, a, h, w = obj.shape  # a: anchors per position (one objectness score each)
            # torchvision's order within a level: position (row, column), then anchor
            obj = obj.permute(0, 2, 3, 1).reshape(n, -1)
            k = det_utils._topk_min(obj, self.pre_nms_top_n(), 1)
            top, idx = obj.topk(k, dim=1)
            pos, anchor = idx // a, idx % a
            delta = delta.view(n, a, 4, h * w)
            picked = delta[torch.arange(n, device=idx.device)[:, None], anchor, :, pos]  # (n, k, 4)
            boxes.append(self.box_coder.decode_single(picked.reshape(-1, 4), anchors[offset + idx].reshape(-1, 4)).view(n, k, 4))
            scores.append(top)
            levels.append(torch.full_like(idx, level))
            offset += a * h * w
        proposals = self._keep(torch.cat(boxes, 1), torch.cat(scores, 1), torch.cat(levels, 1), images.image_sizes)
        if not self.training:
            return proposals, {}
        if targets is None:
            raise ValueError("targets should not be None")
        return proposals, self._losses(objectness, deltas, anchors, targets)

    def _losses(
        self, objectness: list[Tensor], deltas: list[Tensor], anchors: Tensor, targets: list[dict[str, Tensor]]
    ) -> dict[str, Tensor]:
        """torchvision's `assign_targets_to_anchors` and `compute_loss`, encoding only the
        regression targets the loss reads."""
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        labels, matched = [], []
        # slices that stay in a CPU's caches; on a GPU the whole matrix at once, as torchvision
        cells = 1 << 20 if anchors.device.type == "cpu" else 1 << 28
        for target in targets:
            gt = target["boxes"]
            if gt.numel() == 0:  # a background image: every anchor negative
                labels.append(anchors.new_zeros(anchors.shape[0]))
                matched.append(torch.zeros(anchors.shape[0], dtype=torch.long, device=anchors.device))
                continue
            idx = match_in_slices(self.proposal_matcher, self.box_similarity, gt, anchors, cells)
            label = (idx >= 0).to(torch.float32)
            label[idx == self.proposal_matcher.BELOW_LOW_THRESHOLD] = 0.0
            label[idx == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1.0
            labels.append(label)
            matched.append(idx.clamp(min=0))
        sampled_pos, sampled_neg = self.fg_bg_sampler(labels)
        pos = torch.where(torch.cat(sampled_pos, dim=0))[0]
        neg = torch.where(torch.cat(sampled_neg, dim=0))[0]
        sampled = torch.cat([pos, neg], dim=0)
        n = anchors.shape[0]
        image, at = pos // n, pos % n
        gt_boxes = torch.cat([t["boxes"][m[at[image == i]]] for i, (t, m) in enumerate(zip(targets, matched, strict=True))])
        # `pos` is sorted, so the rows of gt_boxes follow it image by image
        regression = self.box_coder.encode_single(gt_boxes, anchors[at])
        box_loss = F.smooth_l1_loss(deltas[pos], regression, beta=1 / 9, reduction="sum") / sampled.numel()
        objectness_loss = F.binary_cross_entropy_with_logits(objectness.flatten()[sampled], torch.cat(labels)[sampled])
        return {"loss_objectness": objectness_loss, "loss_rpn_box_reg": box_loss}

    def _anchors(self, images: ImageList, feats: list[Tensor]) -> Tensor:
        """The anchors of one image (every image of a batch shares them), cached by size."""
        key = (tuple(images.tensors.shape[-2:]), tuple(tuple(f.shape[-2:]) for f in feats), feats[0].dtype, feats[0].device)
        cached = self._anchor_cache
        if cached is None or cached[0] != key:
            one = ImageList(images.tensors[:1], images.image_sizes[:1])
            cached = (key, self.anchor_generator(one, [f[:1] for f in feats])[0])
            self._anchor_cache = cached
        return cached[1]

    def _keep(self, boxes: Tensor, logits: Tensor, levels: Tensor, sizes: list[tuple[int, int]]) -> list[Tensor]:
        """torchvision's `filter_proposals` after its top-n choice: clip, drop small and
        low-scoring boxes, NMS per level, keep `post_nms_top_n`."""
        kept = []
        for b, s, lvl, size in zip(boxes, torch.sigmoid(logits), levels, sizes, strict=True):
            b = box_ops.clip_boxes_to_image(b, size)
            keep = box_ops.remove_small_boxes(b, self.min_size)
            b, s, lvl = b[keep], s[keep], lvl[keep]
            keep = torch.where(s >= self.score_thresh)[0]
            b, s, lvl = b[keep], s[keep], lvl[keep]
            keep = box_ops.batched_nms(b, s, lvl, self.nms_thresh)[: self.post_nms_top_n()]
            kept.append(b[keep])
        return kept


def match_in_slices(
    matcher: det_utils.Matcher, similarity: Callable[[Tensor, Tensor], Tensor], gt: Tensor, anchors: Tensor, cells: int = 1 << 20
) -> Tensor:
    """``matcher(similarity(gt, anchors))``, building the (gt × anchors) matrix a slice of about
    `cells` entries at a time: the same matches, including torchvision's low-quality matches
    (every anchor that reaches some box's best overlap, ties included)."""
    step = max(1, cells // max(1, gt.shape[0]))
    best = []  # per slice, each anchor's best overlap and box
    ties = []  # per slice, the (box, anchor) pairs at that box's best overlap in the slice, and it
    for s in range(0, anchors.shape[0], step):
        quality = similarity(gt, anchors[s : s + step])
        best.append(quality.max(dim=0))
        if matcher.allow_low_quality_matches:
            top = quality.max(dim=1).values
            box, anchor = torch.where(quality == top[:, None])
            ties.append((box, anchor + s, top[box]))
    values = torch.cat([v for v, _ in best])
    all_matches = torch.cat([i for _, i in best])
    matches = all_matches.clone()
    matches[values < matcher.low_threshold] = matcher.BELOW_LOW_THRESHOLD
    matches[(values >= matcher.low_threshold) & (values < matcher.high_threshold)] = matcher.BETWEEN_THRESHOLDS
    if matcher.allow_low_quality_matches:
        box, anchor, top = (torch.cat(t) for t in zip(*ties, strict=True))
        best_per_gt = torch.full_like(gt[:, 0], -torch.inf).scatter_reduce(0, box, top, "amax")
        hit = anchor[top == best_per_gt[box]]  # slices whose best for a box is its best overall
        matches[hit] = all_matches[hit]
    return matches
