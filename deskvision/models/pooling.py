"""torchvision's multi-scale RoIAlign, run on several threads at inference.

torchvision's CPU RoIAlign kernel works through the boxes on one core, and it took about a
quarter of a 1080p screenshot's time with 1000 proposals. It releases the GIL, so at inference
the boxes are cut into one part per torch thread, pooled side by side and put back in order:
the same numbers, about half the time on 2 cores (BENCHMARKS.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign

MIN_BOXES = 64  # fewer boxes are not worth the threads


class ThreadedRoIAlign(MultiScaleRoIAlign):
    """`MultiScaleRoIAlign` that pools parts of the boxes on `torch.get_num_threads()` threads."""

    @classmethod
    def like(cls, pool: MultiScaleRoIAlign) -> ThreadedRoIAlign:
        """The same pooling (feature maps, output size, sampling, levels) with this class's threads."""
        return cls(
            pool.featmap_names,
            pool.output_size,
            pool.sampling_ratio,
            canonical_scale=pool.canonical_scale,
            canonical_level=pool.canonical_level,
        )

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        threads = torch.get_num_threads()
        total = sum(len(b) for b in boxes)
        # only without autograd (grad and inference modes are per thread), and not on the first
        # call, which sets up the pyramid's scales (module state)
        serial = torch.is_grad_enabled() or self.scales is None or threads < 2 or total < MIN_BOXES
        if serial or boxes[0].device.type != "cpu":
            return super().forward(x, boxes, image_shapes)
        empty = [b[:0] for b in boxes]
        # one job per part of one image's boxes; the other images get none, so the rows of the
        # results, concatenated in job order, are those of a single call
        jobs = [empty[:i] + [part] + empty[i + 1 :] for i, b in enumerate(boxes) for part in b.chunk(threads)]

        def pool_part(job: list[Tensor]) -> Tensor:
            with torch.no_grad():
                return super(ThreadedRoIAlign, self).forward(x, job, image_shapes)

        with ThreadPoolExecutor(threads) as pool:
            return torch.cat(list(pool.map(pool_part, jobs)))
