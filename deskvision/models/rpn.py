"""torchvision's region proposal network with a leaner inference pass, same proposals.

torchvision decodes a box for every anchor (about 1.4 M on a 1600-px screenshot with our 10
anchors per position at stride 4) and only then keeps the best `pre_nms_top_n` per feature level.
Here, in eval mode, the best anchors of each level are chosen on their objectness first and only
those are decoded; the anchors of a given input and feature size are computed once and reused.
Training runs torchvision's code unchanged. The proposals are those of torchvision's pass
(`tests/test_models.py` compares them), up to ties in objectness.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.ops import boxes as box_ops


class SelectiveRPN(RegionProposalNetwork):
    """`RegionProposalNetwork` whose inference decodes only the anchors it keeps."""

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
        if self.training:
            return super().forward(images, features, targets)
        feats = list(features.values())
        objectness, deltas = self.head(feats)
        anchors = self._anchors(images, feats)
        boxes, scores, levels = [], [], []
        offset = 0
        for level, (obj, delta) in enumerate(zip(objectness, deltas, strict=True)):
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
        return self._keep(torch.cat(boxes, 1), torch.cat(scores, 1), torch.cat(levels, 1), images.image_sizes), {}

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
