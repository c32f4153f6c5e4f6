"""Fine-tune only some parameters of a model file with the detection losses: its separable convs
(`ModelConfig.separable`) and those named by --also; every other weight and every batch-norm
statistic stays as it is. Used for the separable-conv experiments
(docs/default_training/separable_plan.md, BENCHMARKS.md "Where the time goes"):

    python scripts/finetune_parts.py DISTILLED.safetensors FT1.safetensors --steps 300 --lr 0.01 --warmup 50 --seed 22
    python scripts/finetune_parts.py FT1.safetensors FT2.safetensors --steps 500 --lr 0.005 --warmup 20 --seed 23 \
        --also rpn.head.cls_logits.,rpn.head.bbox_pred.,roi_heads.box_head.,roi_heads.box_predictor.

SGD (momentum 0.9, weight decay 5e-4), linear warm-up then cosine, batches of 4 random 800-px
crops (default augmentations, min zoom 0.5) of the training screens. The model is saved every
100 steps (no resume: the runs took 22 and 50 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import math
import random
import time

import torch

from deskvision.data import load_annotations
from deskvision.data.annotations import merge
from deskvision.data.dataset import ScreenDataset, collate
from deskvision.data.transforms import train_augmentations
from deskvision.models.factory import separable_prefixes
from deskvision.models.io import load_model, save_model
from deskvision.utils.runtime import seed_everything, set_threads

DATA = ("data/synth_layouts24/annotations.json", "data/splits/real_train.json", "data/splits/real2_train.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--also", default="", help="More parameter-name prefixes to train (comma list).")
    parser.add_argument("--data", default=",".join(DATA), help="Annotation files (comma list).")
    args = parser.parse_args()

    set_threads()
    seed_everything(args.seed)
    model, cfg, meta = load_model(args.model)
    ann = merge([load_annotations(p) for p in args.data.split(",")])
    ann.map_labels(cfg.classes, unknown="error")
    dataset = ScreenDataset(ann, cfg.classes, train_augmentations("default", 800, 0.5))
    trained = separable_prefixes(cfg.separable) + tuple(p for p in args.also.split(",") if p)
    if not trained:
        parser.error("nothing to train: the model has no separable convs and --also names no parameters")
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(trained))
        if p.requires_grad:
            params.append(p)
    print(f"{len(params)} trainable tensors, {sum(p.numel() for p in params)} weights", flush=True)
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=5e-4)
    steps, warm = args.steps, args.warmup
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    model.train()
    for m in model.modules():  # frozen statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    rng, start, running = random.Random(args.seed), time.time(), None
    for step in range(steps):
        images, targets = collate([dataset[rng.randrange(len(dataset))] for _ in range(4)])
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % 20 == 0 or step == steps - 1:
            print(f"step {step} loss {running:.4f} ({time.time() - start:.0f} s)", flush=True)
        if step % 100 == 99:
            save_model(model, cfg, args.out, training=meta["training"], half=True)
    model.eval()
    save_model(model, cfg, args.out, training=meta["training"], half=True)


if __name__ == "__main__":
    main()
