"""torchvision's multi-scale RoIAlign with a faster CPU pass at inference, same numbers.

torchvision's CPU `roi_align` interpolates channel by channel on NCHW features, one RoI after the
other: for the 1000 proposals of a 1920×1080 screenshot it took 50-60 ms on 2 cores, more than
the backbone (BENCHMARKS.md, "RoIAlign as a weighted gather"). Every output bin of RoIAlign is a
weighted sum of feature-map pixels (2×2 samples × 4 bilinear corners), so with the features laid
out pixel by pixel (rows of C channels) the whole pooling is one `embedding_bag` call: sums of
weighted rows, which PyTorch runs vectorised over the channels and on every thread. Sample points,
bilinear weights and borders follow torchvision's `roi_align` (``aligned=False``, a fixed
`sampling_ratio`), so the results agree up to float rounding (`tests/test_models.py`).

In training the gradient of that gather is the transposed gather: each feature-map pixel sums
the weighted gradients of the bins that read it, again one `embedding_bag` call (over the terms
sorted by pixel). torchvision's CPU backward scatters channel by channel on one thread: for a
batch of four 800-px crops (2048 RoIs) 0.6-0.7 s against 0.15 s here (BENCHMARKS.md, "A leaner
training step"). Other devices, and boxes that need gradients, run torchvision's code unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.poolers import _setup_scales


def _axis(start: Tensor, length: Tensor, size: Tensor, bins: int, samples: int) -> tuple[Tensor, Tensor]:
    """Feature-map indices and weights along one axis: both (K, bins, samples, 2), the two
    bilinear neighbours of each sample point, the weight 0 for points torchvision drops.
    `size`: (K,) the feature map's length along this axis for each RoI."""
    steps = (torch.arange(bins * samples, dtype=start.dtype, device=start.device) + 0.5) / samples
    at = start[:, None] + steps[None] * (length[:, None] / bins)
    size = size[:, None]
    inside = ((at >= -1.0) & (at <= size)).to(at.dtype)
    at = at.clamp(min=0)
    low = at.floor().long()
    last = low >= size - 1
    low = torch.where(last, size - 1, low)
    frac = torch.where(last, torch.zeros_like(at), at - low.to(at.dtype)) * inside
    high = torch.where(last, low, low + 1)
    index = torch.stack((low, high), -1).reshape(-1, bins, samples, 2)
    weight = torch.stack((inside - frac, frac), -1).reshape(-1, bins, samples, 2)
    return index, weight


def _pool(table: Tensor, first: Tensor, heights: Tensor, widths: Tensor, boxes: Tensor, out: int, samples: int) -> Tensor:
    """RoIAlign from `table`, feature maps laid out one pixel (C channels) per row: for RoI k,
    its map starts at row ``first[k]``, is ``heights[k]`` × ``widths[k]``, and ``boxes[k]`` is
    in that map's coordinates. Returns (K, out, out, C)."""
    k = boxes.shape[0]
    width = (boxes[:, 2] - boxes[:, 0]).clamp(min=1.0)
    height = (boxes[:, 3] - boxes[:, 1]).clamp(min=1.0)
    xi, xw = _axis(boxes[:, 0], width, widths, out, samples)
    yi, yw = _axis(boxes[:, 1], height, heights, out, samples)
    rows = (yi * widths[:, None, None, None] + first[:, None, None, None]).reshape(k, out, 1, -1, 1)
    cols = xi.reshape(k, 1, out, 1, -1)
    xw = xw / (samples * samples)  # each bin is the mean of its samples
    # (K, bin y, bin x, (sample, corner) in y, (sample, corner) in x): every term of every bin
    index = rows + cols
    weight = yw.reshape(k, out, 1, -1, 1) * xw.reshape(k, 1, out, 1, -1)
    terms = samples * samples * 4
    pooled = _WeightedGather.apply(table, index.reshape(-1), weight.reshape(-1).to(table.dtype), terms)
    return pooled.view(k, out, out, table.shape[1])


class _WeightedGather(torch.autograd.Function):
    """Sums of `terms` weighted rows of a table (`embedding_bag`), with the transposed gather as
    its backward: each table row sums the weighted gradients of the sums that read it."""

    @staticmethod
    def forward(ctx, table: Tensor, index: Tensor, weight: Tensor, terms: int) -> Tensor:
        ctx.save_for_backward(index, weight)
        ctx.terms, ctx.rows = terms, table.shape[0]
        offsets = torch.arange(0, index.numel(), terms, device=index.device)
        return F.embedding_bag(index, table, offsets, mode="sum", per_sample_weights=weight)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:
        index, weight = ctx.saved_tensors
        order = torch.argsort(index, stable=True)  # the same sums in the same order, run after run
        counts = torch.bincount(index, minlength=ctx.rows)
        first = torch.cumsum(counts, 0) - counts  # rows nobody reads get an empty sum: 0
        grad_table = F.embedding_bag(order // ctx.terms, grad.contiguous(), first, mode="sum", per_sample_weights=weight[order])
        return grad_table, None, None, None


def _rows(features: Tensor) -> Tensor:
    """(N, C, H, W) → (N·H·W, C): a view when the features are channels-last, else one copy."""
    return features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])


def _table(features: list[Tensor]) -> Tensor:
    """Every level's `_rows` stacked in one table: one copy of each level, where
    ``torch.cat`` of the `_rows` copied NCHW levels twice (3-4 ms at 1080p). With gradients,
    ``torch.cat``, whose backward is views (that of copies into slices copies the table's
    gradient once per level)."""
    if torch.is_grad_enabled() and any(f.requires_grad for f in features):
        return torch.cat([_rows(f) for f in features])
    rows = sum(f.shape[0] * f.shape[2] * f.shape[3] for f in features)
    table = features[0].new_empty((rows, features[0].shape[1]))
    start = 0
    for f in features:
        n, c, h, w = f.shape
        table[start : start + n * h * w].view(n, h, w, c).copy_(f.permute(0, 2, 3, 1))
        start += n * h * w
    return table


def roi_align_gather(features: Tensor, rois: Tensor, output_size: int, spatial_scale: float, sampling_ratio: int) -> Tensor:
    """`torchvision.ops.roi_align(features, rois, output_size, spatial_scale, sampling_ratio,
    aligned=False)` for ``sampling_ratio > 0``, as one weighted gather: (K, C, out, out), the
    channels last in memory."""
    n, c, h, w = features.shape
    if rois.shape[0] == 0:
        return features.new_zeros((0, c, output_size, output_size))
    first = rois[:, 0].long() * (h * w)
    sizes = torch.full_like(first, h), torch.full_like(first, w)
    table = _rows(features).contiguous()
    return _pool(table, first, *sizes, rois[:, 1:] * spatial_scale, output_size, sampling_ratio).permute(0, 3, 1, 2)


class GatherRoIAlign(MultiScaleRoIAlign):
    """`MultiScaleRoIAlign` that pools on the CPU with `roi_align_gather`'s weighted gather."""

    @classmethod
    def like(cls, pooler: MultiScaleRoIAlign) -> GatherRoIAlign:
        """The same pooler (feature maps, output size, sampling, level mapping)."""
        return cls(
            pooler.featmap_names, pooler.output_size, pooler.sampling_ratio,
            canonical_scale=pooler.canonical_scale, canonical_level=pooler.canonical_level,
        )  # fmt: skip

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        features = [x[name] for name in self.featmap_names]
        if (
            (torch.is_grad_enabled() and any(b.requires_grad for b in boxes))
            or self.sampling_ratio <= 0
            or any(f.device.type != "cpu" for f in features)
            or torch.jit.is_scripting()
            or torch.jit.is_tracing()
        ):
            return super().forward(x, boxes, image_shapes)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(features, image_shapes, self.canonical_scale, self.canonical_level)
        out = self.output_size[0] if isinstance(self.output_size, tuple | list) else self.output_size
        rois = torch.cat([torch.cat([torch.full_like(b[:, :1], i), b], 1) for i, b in enumerate(boxes)])
        if rois.shape[0] == 0:
            return features[0].new_zeros((0, features[0].shape[1], out, out))
        # every level's pixels in one table, each RoI reading the level torchvision maps it to
        levels = self.map_levels(boxes) if len(features) > 1 else torch.zeros_like(rois[:, 0], dtype=torch.long)
        mapped = (levels >= 0) & (levels < len(features))  # NaN boxes: torchvision pools them nowhere (zeros)
        levels = levels.clamp(0, len(features) - 1)
        shapes = torch.tensor([f.shape[2:] for f in features], device=rois.device)
        counts = torch.tensor([f.shape[0] * f.shape[2] * f.shape[3] for f in features], device=rois.device)
        starts = torch.cumsum(counts, 0) - counts
        scales = torch.tensor(self.scales, dtype=rois.dtype, device=rois.device)[levels]
        heights, widths = shapes[levels, 0], shapes[levels, 1]
        first = starts[levels] + rois[:, 0].long() * heights * widths
        table = _table(features)
        pooled = _pool(table, first, heights, widths, rois[:, 1:] * scales[:, None], out, self.sampling_ratio)
        if not bool(mapped.all()):
            pooled[~mapped] = 0
        return pooled.permute(0, 3, 1, 2)
