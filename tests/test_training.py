"""The training loop learns, resumes after being killed, accumulates gradients, and is seeded."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import GLYPH_CLASSES, make_glyph_screens, run_cli

from deskvision.data.dataset import ScreenDataset
from deskvision.evaluation import evaluate
from deskvision.models import ModelConfig, create_model, load_model, save_model
from deskvision.models.factory import separable_prefixes
from deskvision.training import TrainConfig, train


def _history(run: Path) -> list[dict]:
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_a_small_model_learns_glyphs(tmp_path):
    """Learning, not a smoke test: about a minute of CPU training reaches mAP@.5 >= 0.8."""
    make_glyph_screens(tmp_path / "data", 12, seed=3)
    ds = ScreenDataset.from_file(tmp_path / "data" / "annotations.json", classes=GLYPH_CLASSES)
    cfg = TrainConfig(epochs=60, batch_size=4, lr=0.02, warmup_steps=10, seed=0, device="cpu", val_every=20)
    train(ds, ds, ModelConfig(classes=GLYPH_CLASSES), tmp_path / "run", cfg, progress=False)
    model, _, meta = load_model(tmp_path / "run" / "best.safetensors")
    metrics = evaluate(model, ds)
    assert metrics.map50 >= 0.8, metrics
    assert meta["training"]["train"]["images"] == 12
    history = _history(tmp_path / "run")
    assert len(history) == 60 and float(history[-1]["loss"]) < float(history[0]["loss"])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "deskvision.cli.main",
        "train",
        str(data),
        "--out",
        str(out),
        "--classes",
        ",".join(GLYPH_CLASSES),
        "--epochs",
        "3",
        "--batch-size",
        "1",
        "--val-split",
        "0",
        "--device",
        "cpu",
        "--augment",
        "none",
        *extra,
    ]


def test_killed_run_resumes_where_it_stopped(tmp_path):
    make_glyph_screens(tmp_path / "data", 6, seed=4)
    data, out = tmp_path / "data" / "annotations.json", tmp_path / "run"
    env = {**os.environ, "DESKVISION_THREADS": "1"}
    proc = subprocess.Popen(_train_cmd(data, out, "--checkpoint-steps", "2"), env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not (out / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] < 3  # it was killed before the end
    stopped_at = (ckpt["epoch"], ckpt["batch"])
    again = subprocess.run(_train_cmd(data, out), env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr  # never overwrites a run silently
    done = subprocess.run(_train_cmd(data, out, "--resume"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    history = _history(out)
    assert [int(h["epoch"]) for h in history] == [1, 2, 3]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 3
    assert stopped_at != (3, 0)
    load_model(out / "best.safetensors")


def _one_epoch(tmp_path: Path, name: str, **kwargs) -> list[dict]:
    make_glyph_screens(tmp_path / "data", 4, seed=5)
    ds = ScreenDataset.from_file(tmp_path / "data" / "annotations.json", classes=GLYPH_CLASSES)
    cfg = TrainConfig(**{"epochs": 1, "batch_size": 1, "seed": 7, "device": "cpu", **kwargs})
    train(ds, None, ModelConfig(classes=GLYPH_CLASSES), tmp_path / name, cfg, progress=False)
    return _history(tmp_path / name)


def test_same_seed_same_losses_and_accumulation_runs(tmp_path):
    a = _one_epoch(tmp_path, "a")
    b = _one_epoch(tmp_path, "b")
    assert abs(float(a[0]["loss"]) - float(b[0]["loss"])) < 1e-4
    c = _one_epoch(tmp_path, "c", accumulate=2)
    assert float(c[0]["loss"]) > 0 and c[0]["loss"] != a[0]["loss"]
    assert int(a[0]["images"]) == 4
    d = _one_epoch(tmp_path, "d", epoch_size=2)  # a random half of the set each epoch
    assert int(d[0]["images"]) == 2 and d[0]["loss"] != a[0]["loss"]


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    from deskvision.errors import DeskvisionError

    make_glyph_screens(tmp_path / "data", 2, seed=6)
    ds = ScreenDataset.from_file(tmp_path / "data" / "annotations.json", classes=GLYPH_CLASSES)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DeskvisionError, match="unreadable checkpoint"):
        train(ds, None, ModelConfig(classes=GLYPH_CLASSES), tmp_path / "run", TrainConfig(epochs=1, device="cpu"), resume=True)
    with pytest.raises(DeskvisionError, match="--resume"):
        train(ds, None, ModelConfig(classes=GLYPH_CLASSES), tmp_path / "run", TrainConfig(epochs=1, device="cpu"))


@pytest.mark.parametrize("parts", [("fpn", "rpn"), ("rpn",)])  # with ("rpn",) the dense pyramid convs stay
def test_train_only_trains_the_named_parameters_and_keeps_the_rest(tmp_path, parts):
    make_glyph_screens(tmp_path / "data", 3, seed=8)
    ds = ScreenDataset.from_file(tmp_path / "data" / "annotations.json", classes=GLYPH_CLASSES)
    torch.manual_seed(0)
    cfg = ModelConfig(classes=GLYPH_CLASSES, separable=parts)
    start = tmp_path / "m.safetensors"
    save_model(create_model(cfg), cfg, start)
    trained = (*separable_prefixes(parts), "roi_heads.box_predictor.")
    run = TrainConfig(epochs=1, batch_size=1, seed=3, device="cpu", init=str(start), train_only=trained)
    train(ds, None, cfg, tmp_path / "run", run, progress=False)
    before, after = load_model(start)[0].state_dict(), load_model(tmp_path / "run" / "last.safetensors")[0].state_dict()
    for name, tensor in before.items():
        if name.startswith(trained) and name.endswith("weight"):
            assert not torch.equal(after[name], tensor), name
        elif not name.startswith(trained):
            assert torch.equal(after[name], tensor), name  # batch-norm statistics included


def test_train_only_errors_are_clear(tmp_path):
    make_glyph_screens(tmp_path / "data", 2, seed=9)
    cfg = ModelConfig(classes=GLYPH_CLASSES)
    save_model(create_model(cfg), cfg, tmp_path / "m.safetensors")
    data = str(tmp_path / "data" / "annotations.json")
    common = ("--init", str(tmp_path / "m.safetensors"), "--epochs", "1", "--val-split", "0", "--device", "cpu")
    for spec, message in (("separable", "has no separable convs"), ("rpn.nothing.", "no trainable parameter has such a name")):
        proc = run_cli("train", data, "--out", str(tmp_path / spec), "--train-only", spec, *common)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
