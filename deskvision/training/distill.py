"""Make a trained model faster: distil its dense 3x3 convs at the finest strides into
depthwise-separable ones (`ModelConfig.separable`).

The student is the teacher with those convs swapped (`make_separable`); every other weight is
copied and frozen. On random crops of screenshots, the new convs learn to give what the
teacher's give, from the same inputs: the pyramid features at strides 4 and 8 (part "fpn"), and
the RPN conv's output at every level, fed the student's features (part "rpn"), together with
what the RPN's frozen 1x1 layers make of it: the objectness and the box deltas. Cheap on a CPU:
only the new convs train, and the teacher runs without gradients.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import pil_to_tensor

from deskvision.data import load_annotations
from deskvision.data.images import load_image
from deskvision.data.jsonio import write_atomic
from deskvision.errors import DataError, ModelError
from deskvision.models.factory import (
    SEPARABLE_LEVELS,
    SEPARABLE_PARTS,
    create_model,
    load_matching,
    separable_parts,
    separable_prefixes,
)
from deskvision.models.io import load_model, save_model, stored_in_half
from deskvision.utils.progress import track
from deskvision.utils.runtime import pick_device, seed_everything

log = logging.getLogger("deskvision")


@dataclasses.dataclass
class DistillReport:
    steps: int
    screenshots: int
    feature_loss: float  # mean squared error over the teacher's variance, last 5 % of the steps
    rpn_loss: float  # the same for the RPN conv's output, summed over the levels, plus `_rpn_output_loss`
    seconds: float


def _crops(pixels: list[torch.Tensor], size: int, rng: random.Random) -> torch.Tensor:
    """A random `size` x `size` crop of each image (zero-padded when smaller), uint8."""
    out = torch.zeros(len(pixels), 3, size, size, dtype=torch.uint8)
    for o, img in zip(out, pixels, strict=True):
        h, w = img.shape[-2:]
        y, x = rng.randrange(max(1, h - size + 1)), rng.randrange(max(1, w - size + 1))
        part = img[:, y : y + size, x : x + size]
        o[:, : part.shape[1], : part.shape[2]] = part
    return out


def _relative_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(student, teacher) / teacher.var().clamp(min=1e-6)


def _rpn_outputs(head: torch.nn.Module, convs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """torchvision's `RPNHead.forward` from its conv's outputs: objectness and deltas per level."""
    return [head.cls_logits(c) for c in convs], [head.bbox_pred(c) for c in convs]


def _rpn_output_loss(
    student: tuple[list[torch.Tensor], list[torch.Tensor]], teacher: tuple[list[torch.Tensor], list[torch.Tensor]]
) -> torch.Tensor:
    """How far the student's RPN outputs (objectness and box deltas per level) are from the
    teacher's: binary cross-entropy against the teacher's objectness, weighted towards the anchors
    either model finds likely (the rest are easy background, and the proposals are the likely
    ones), plus the smooth-L1 distance of the box deltas weighted by the teacher's objectness."""
    logits = torch.cat([o.flatten() for o in student[0]])
    target = torch.cat([o.flatten() for o in teacher[0]]).sigmoid()
    mine, theirs = (torch.cat([_per_anchor(d) for d in side]) for side in (student[1], teacher[1]))
    weight = torch.maximum(target, logits.detach().sigmoid()) + 0.01
    objectness = (weight * F.binary_cross_entropy_with_logits(logits, target, reduction="none")).sum() / weight.sum()
    box = (target[:, None] * F.smooth_l1_loss(mine, theirs, beta=1 / 9, reduction="none")).sum()
    return objectness + box / target.sum().clamp(min=1e-6)


def _per_anchor(deltas: torch.Tensor) -> torch.Tensor:
    """(N, A*4, H, W) box deltas → (N*A*H*W, 4), in the order of the flattened (N, A, H, W) objectness."""
    return deltas.reshape(deltas.shape[0], -1, 4, *deltas.shape[-2:]).movedim(2, -1).flatten(0, -2)


def distill_separable(
    teacher_path: str | Path,
    data: Sequence[str | Path],
    out: str | Path,
    *,
    steps: int = 4000,
    batch: int = 2,
    crop: int = 512,
    lr: float = 2e-3,
    seed: int = 0,
    parts: Sequence[str] = SEPARABLE_PARTS,
    half: bool | None = None,
    checkpoint_steps: int = 250,
    resume: bool = False,
    device: str = "auto",
) -> DistillReport:
    """Write `out`: the model at `teacher_path` with the convs of `parts` ("fpn", "rpn") made
    separable, distilled on crops of the screenshots of the annotation files `data` (their boxes
    are not used); `half`: fp16 storage (None: as the teacher's file).

    Every `checkpoint_steps` the run is saved to `checkpoint_path(out)`; with `resume` it goes on
    from there, drawing the same crops as an uninterrupted run (each step's are drawn from
    its own seed)."""
    try:
        parts = separable_parts(parts)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    if not parts:
        raise ModelError("nothing to make separable: name a part (fpn, rpn)")
    dev = pick_device(device)
    teacher, config, meta = load_model(teacher_path, dev)
    if config.separable:
        raise ModelError(f"{teacher_path}: its convs are separable already")
    screenshots = []
    for source in data:
        found = load_annotations(source)
        screenshots += [found.path(image) for image in found.images]
    if not screenshots:
        raise DataError("no screenshots to distil on")
    seed_everything(seed)
    student_config = dataclasses.replace(config, separable=parts)
    student = create_model(student_config)
    load_matching(student, teacher.state_dict(), str(teacher_path))
    student.to(dev).eval()  # batch norms keep the teacher's statistics
    fpn = teacher.backbone.fpn
    levels = SEPARABLE_LEVELS if "fpn" in student_config.separable else ()
    # the pyramid's new convs first, in `levels` order, then the RPN's
    new = [student.get_submodule(prefix.rstrip(".")) for prefix in separable_prefixes(student_config.separable)]
    for p in student.parameters():
        p.requires_grad_(False)
    params = [p for module in new for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)

    seen: dict[int, torch.Tensor] = {}  # the input of each replaced pyramid conv
    hooks = [
        fpn.layer_blocks[level].register_forward_hook(lambda _m, inp, _o, level=level: seen.__setitem__(level, inp[0]))
        for level in levels
    ]
    losses: list[tuple[float, float]] = []
    settings = {
        "teacher": str(teacher_path), "steps": steps, "batch": batch, "crop": crop, "lr": lr, "seed": seed,
        "parts": list(student_config.separable),
    }  # fmt: skip
    ckpt, first = checkpoint_path(out), 0
    if resume and ckpt.is_file():
        try:
            state = torch.load(ckpt, map_location=dev, weights_only=True)
            if state["settings"] != settings:
                raise ValueError(f"it was started with other settings: {state['settings']}")
            for module, weights in zip(new, state["modules"], strict=True):
                module.load_state_dict(weights)
            opt.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            first, losses = state["step"], [tuple(pair) for pair in state["losses"]]
        except Exception as exc:  # truncated file, foreign pickle, missing keys, other run
            raise DataError(f"{ckpt}: cannot resume ({exc.__class__.__name__}: {exc})") from None
        log.info(f"resuming the distillation at step {first}")
    start = time.perf_counter()
    try:
        for step in track(range(first, steps), "distilling", enabled=sys.stderr.isatty(), total=steps - first):
            rng = random.Random(seed * 1_000_003 + step)
            picked = [pil_to_tensor(load_image(screenshots[rng.randrange(len(screenshots))])) for _ in range(batch)]
            x = student.transform.normalize(_crops(picked, crop, rng).to(dev).float().div_(255))
            with torch.no_grad():
                features = list(teacher.backbone(x).values())
                target = [teacher.rpn.head.conv(f) for f in features]
                outputs = _rpn_outputs(teacher.rpn.head, target)
            mine = list(features)
            for level, module in zip(levels, new, strict=False):
                mine[level] = module(seen[level])
            feature_loss = sum((_relative_mse(mine[level], features[level]) for level in levels), torch.zeros((), device=dev))
            convs = [student.rpn.head.conv(f) for f in mine]
            rpn_loss = sum(_relative_mse(c, t) for c, t in zip(convs, target, strict=True))
            rpn_loss = rpn_loss + _rpn_output_loss(_rpn_outputs(student.rpn.head, convs), outputs)
            loss = feature_loss + rpn_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            losses.append((feature_loss.item(), rpn_loss.item()))
            if step % 200 == 0:
                log.info(f"step {step}: feature loss {losses[-1][0]:.4f}, RPN loss {losses[-1][1]:.4f}")
            if (step + 1) % checkpoint_steps == 0 and step + 1 < steps:
                state = {
                    "settings": settings, "step": step + 1, "modules": [m.state_dict() for m in new],
                    "optimizer": opt.state_dict(), "schedule": schedule.state_dict(), "losses": losses,
                }  # fmt: skip
                buf = io.BytesIO()
                torch.save(state, buf)
                write_atomic(ckpt, buf.getvalue())
    finally:
        for hook in hooks:
            hook.remove()
    tail = losses[-max(1, steps // 20) :]
    report = DistillReport(
        steps=steps,
        screenshots=len(screenshots),
        feature_loss=sum(f for f, _ in tail) / len(tail),
        rpn_loss=sum(r for _, r in tail) / len(tail),
        seconds=time.perf_counter() - start,
    )
    training = {
        **meta.get("training", {}),
        "distilled_from": str(teacher_path),
        "distill": {**dataclasses.asdict(report), **settings},
    }
    half = stored_in_half(teacher_path) if half is None else half
    save_model(student, student_config, out, training=training, half=half)
    ckpt.unlink(missing_ok=True)
    return report


def checkpoint_path(out: str | Path) -> Path:
    """Where `distill_separable` keeps its unfinished run for `out`."""
    out = Path(out)
    return out.with_name(out.name + ".distill.pt")
