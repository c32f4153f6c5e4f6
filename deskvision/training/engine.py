"""The training loop, after torchvision's references/detection, with checkpoints that resume
mid-epoch: a killed run loses at most `checkpoint_minutes` of work."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from deskvision.data.dataset import ScreenDataset, collate
from deskvision.data.jsonio import write_atomic, write_json
from deskvision.errors import DeskvisionError
from deskvision.evaluation.coco_eval import evaluate
from deskvision.models.factory import ModelConfig, create_model
from deskvision.models.io import init_from, save_model
from deskvision.training.plots import LOSS_KEYS, plot_history
from deskvision.training.schedule import lr_factor
from deskvision.utils.progress import track
from deskvision.utils.runtime import pick_device, seed_everything

log = logging.getLogger("deskvision")


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 2
    accumulate: int = 1  # optimizer step every N batches (gradient accumulation)
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 0.0005
    schedule: str = "cosine"  # cosine | step | constant
    lr_gamma: float = 0.9  # per-epoch factor of the "step" schedule
    warmup_steps: int = 100
    amp: bool = False  # mixed precision, CUDA only
    device: str = "auto"
    seed: int = 0
    workers: int = 0
    val_every: int = 1
    checkpoint_minutes: float = 10.0
    checkpoint_steps: int = 0  # also checkpoint every N batches (0: off)
    init: str | None = None  # none | torchvision | path to a deskvision model file
    half: bool = False  # store the final models in fp16
    epoch_size: int = 0  # images drawn (without replacement) per epoch; 0: the whole training set
    # Parameter-name prefixes to train (e.g. "rpn.head.", "roi_heads."); every other weight, and
    # the statistics of every batch norm whose weights are not trained, stay as they are. Empty: all.
    train_only: tuple[str, ...] = ()

    def images_per_epoch(self, n: int) -> int:
        return min(n, self.epoch_size) if self.epoch_size > 0 else n


class _SeededView(torch.utils.data.Dataset):
    """Seeds augmentation per (seed, epoch, index): the same sample gets the same augmentation
    whatever the worker count, and after a resume."""

    def __init__(self, dataset: ScreenDataset, seed: int, epoch: int):
        self.dataset, self.seed, self.epoch = dataset, seed, epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        random.seed(self.seed * 1_000_003 + self.epoch * 10_007 + idx)
        return self.dataset[idx]


def _order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 7919 + epoch)
    return torch.randperm(n, generator=g).tolist()


def _save_checkpoint(path: Path, **state) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    write_atomic(path, buf.getvalue())


def _write_history(history: list[dict], out: Path) -> None:
    keys = list(dict.fromkeys(k for h in history for k in h))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, keys)
    writer.writeheader()
    writer.writerows(history)
    write_atomic(out / "history.csv", buf.getvalue())
    plot_history(history, out / "loss.png")


def _summary(dataset: ScreenDataset) -> dict:
    counts = dataset.annotations.label_counts()
    return {"source": dataset.annotations.source, "images": len(dataset), "boxes": dict(counts)}


def _train_only(model: torch.nn.Module, prefixes: tuple[str, ...]) -> list[torch.nn.Module]:
    """Freeze every parameter whose name does not start with one of `prefixes`; returns the batch
    norms left with no trained weight, whose statistics must stay as they are too."""
    trained = []
    for name, param in model.named_parameters():
        param.requires_grad_(param.requires_grad and name.startswith(prefixes))
        trained += [name] if param.requires_grad else []
    if not trained:
        raise DeskvisionError(f"--train-only {','.join(prefixes)}: no trainable parameter has such a name")
    log.info(f"training {len(trained)} of the model's tensors ({', '.join(prefixes)})")
    kinds = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm)
    norms = (m for m in model.modules() if isinstance(m, kinds))
    return [m for m in norms if not any(p.requires_grad for p in m.parameters())]


def train(
    train_set: ScreenDataset,
    val_set: ScreenDataset | None,
    model_config: ModelConfig,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train, validating each epoch; write checkpoints, history.csv, loss.png, best/last models.

    Returns the last history row (losses, validation metrics).
    """
    out = Path(out_dir)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise DeskvisionError(f"{out} already holds a training run: pass --resume to continue it, or choose another --out")
    if resume and not ckpt_path.exists():
        raise DeskvisionError(f"nothing to resume: {ckpt_path} not found")
    if len(train_set) == 0:
        raise DeskvisionError("the training set is empty")
    if tuple(train_set.classes) != tuple(model_config.classes):
        raise DeskvisionError("dataset classes differ from the model's classes")
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)

    state = None
    if resume:
        try:
            state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            model_config = ModelConfig.from_dict(state["model_config"])
            cfg = TrainConfig(**{**state["train_config"], "epochs": cfg.epochs, "device": cfg.device, "workers": cfg.workers})
        except Exception as exc:  # truncated file, foreign pickle, missing keys...
            raise DeskvisionError(f"{ckpt_path}: unreadable checkpoint ({exc.__class__.__name__}: {exc})") from None
        if tuple(train_set.classes) != tuple(model_config.classes):
            raise DeskvisionError(
                f"the run in {out} was trained on classes {', '.join(model_config.classes)}: resume it with the same --classes"
            )
        log.info(f"resuming from epoch {state['epoch'] + 1}, batch {state['batch']}")
    elif cfg.init == "torchvision":
        model_config = dataclasses.replace(model_config, frozen_bn=True)

    init = cfg.init if cfg.init not in (None, "none", "torchvision") else None
    model = create_model(model_config, weights="torchvision" if cfg.init == "torchvision" and state is None else None)
    if init and state is None:
        skipped = init_from(model, init)
        log.info(f"initialised from {init}; new: {len(skipped)} tensors")
    model.to(device)
    frozen_norms = _train_only(model, tuple(cfg.train_only)) if cfg.train_only else []
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    per_epoch = cfg.images_per_epoch(len(train_set))
    steps_per_epoch = math.ceil(per_epoch / cfg.batch_size / cfg.accumulate)
    warmup = min(cfg.warmup_steps, max(1, steps_per_epoch - 1))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: lr_factor(
            s, steps_per_epoch=steps_per_epoch, epochs=cfg.epochs, warmup_steps=warmup, schedule=cfg.schedule, gamma=cfg.lr_gamma
        ),
    )
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    history: list[dict] = []
    start_epoch, start_batch, best = 0, 0, -math.inf
    partial = {k: 0.0 for k in LOSS_KEYS} | {"n": 0}
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history, best = state["history"], state["best"]
        start_epoch, start_batch, partial = state["epoch"], state["batch"], state["partial"]

    training_meta = {
        "train": _summary(train_set),
        "val": _summary(val_set) if val_set else None,
        "config": dataclasses.asdict(cfg),
    }
    write_json(out / "train_config.json", {"model": model_config.to_dict(), "train": dataclasses.asdict(cfg)})

    def checkpoint(epoch: int, batch: int) -> None:
        _save_checkpoint(
            ckpt_path,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            scaler=scaler.state_dict(),
            epoch=epoch,
            batch=batch,
            partial=partial,
            history=history,
            best=best,
            model_config=json.loads(json.dumps(model_config.to_dict())),
            train_config=dataclasses.asdict(cfg),
        )

    last_save = time.monotonic()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        for norm in frozen_norms:
            norm.eval()
        order = _order(len(train_set), cfg.seed, epoch)[:per_epoch]
        first = start_batch * cfg.batch_size if epoch == start_epoch else 0
        loader = torch.utils.data.DataLoader(
            _SeededView(train_set, cfg.seed, epoch),
            batch_size=cfg.batch_size,
            sampler=order[first:],
            collate_fn=collate,
            num_workers=cfg.workers,
            persistent_workers=False,
        )
        n_batches = math.ceil(len(order) / cfg.batch_size)
        batch = first // cfg.batch_size
        t0 = time.monotonic()
        optimizer.zero_grad(set_to_none=True)
        for images, targets in track(loader, f"epoch {epoch + 1}/{cfg.epochs}", enabled=progress, total=n_batches - batch):
            images = [img.to(device, non_blocking=True) for img in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            with torch.autocast(device.type, enabled=use_amp):
                loss_dict = model(images, targets)
                loss = sum(loss_dict.values())
            if not torch.isfinite(loss):
                raise DeskvisionError(
                    f"loss became {loss.item()} at epoch {epoch + 1}, batch {batch}: lower --lr (the last checkpoint is kept)"
                )
            scaler.scale(loss / cfg.accumulate).backward()
            batch += 1
            if batch % cfg.accumulate == 0 or batch == n_batches:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
            partial["loss"] += loss.item()
            for k, v in loss_dict.items():
                partial[k] += v.item()
            partial["n"] += 1
            due = cfg.checkpoint_steps and batch % cfg.checkpoint_steps == 0
            if (
                (due or time.monotonic() - last_save > 60 * cfg.checkpoint_minutes)
                and batch % cfg.accumulate == 0
                and batch < n_batches
            ):
                checkpoint(epoch, batch)
                last_save = time.monotonic()

        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], "images": len(order)}
        row |= {k: partial[k] / max(1, partial["n"]) for k in LOSS_KEYS}
        row["seconds"] = round(time.monotonic() - t0, 1)
        score = -row["loss"]
        if val_set is not None and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
            metrics = evaluate(model, val_set, device, batch_size=cfg.batch_size, progress=progress)
            row |= {"val_map": metrics.map, "val_map50": metrics.map50, "val_recall": metrics.recall}
            score = metrics.map
            write_json(out / "metrics.json", metrics.to_dict())
        history.append(row)
        log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        meta = training_meta | {"epochs_done": epoch + 1, "last": row}
        save_model(model, model_config, out / "last.safetensors", training=meta, half=cfg.half)
        score = -math.inf if math.isnan(score) else score
        if score > best:
            best = score
            save_model(model, model_config, out / "best.safetensors", training=meta, half=cfg.half)
        partial = {k: 0.0 for k in LOSS_KEYS} | {"n": 0}
        checkpoint(epoch + 1, 0)
        last_save = time.monotonic()
        _write_history(history, out)
    return history[-1] if history else {}
