"""The deskvision model file: one safetensors file, weights plus JSON metadata.

safetensors holds only tensors and strings, so loading a model never unpickles code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from deskvision.data.jsonio import new_temp
from deskvision.errors import ModelError
from deskvision.models.factory import EXTENDS, ModelConfig, create_model, load_matching

FORMAT = "deskvision-model/1"

log = logging.getLogger("deskvision")


def save_model(
    model: nn.Module, config: ModelConfig, path: str | Path, *, training: dict | None = None, half: bool = False
) -> None:
    """Write weights and metadata atomically; `half` stores floating-point weights as fp16."""
    from deskvision import __version__

    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu").contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    meta = {
        "format": FORMAT,
        "deskvision_version": __version__,
        "config": json.dumps(config.to_dict()),
        "training": json.dumps(training or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp(path)
    try:
        save_file(state, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: str | Path) -> dict:
    """The metadata of a model file: ``config`` (dict), ``training`` (dict), versions."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a deskvision model file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not a deskvision model file (no {FORMAT} metadata)")
    try:
        return {**meta, "config": json.loads(meta["config"]), "training": json.loads(meta.get("training", "{}"))}
    except (KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: corrupt model metadata ({exc})") from None


def stored_in_half(path: str | Path) -> bool:
    """Whether a model file stores its weights as fp16 (`save_model(half=True)`)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            names = f.keys()  # a safetensors file is not iterable
            return any(f.get_slice(name).get_dtype() == "F16" for name in names)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a deskvision model file ({exc})") from None


def config_to_continue(path: str | Path, classes: tuple[str, ...], arch: str | None = None, **changes) -> ModelConfig:
    """The config of a model that starts from the model file `path` (`init_from`): that model's
    own — anchors, inference settings, title-bar sides, label head, separable convs — for
    `classes`, with `arch` (the file's own or one that extends it) and `changes` (fields of
    `ModelConfig`) applied. A label head is dropped, with a message, when `classes` lack file or
    launcher; it is kept as trained otherwise (detector training leaves it unchanged)."""
    path = Path(path)
    try:
        config = ModelConfig.from_dict(read_metadata(path)["config"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: unusable model config ({exc})") from None
    if arch is not None and arch != config.arch:
        if EXTENDS.get(arch) != config.arch:
            raise ModelError(f"{path}: is a {config.arch} model, cannot initialise a {arch}")
        config = dataclasses.replace(config, arch=arch)
    config = dataclasses.replace(config, classes=tuple(classes), **changes)
    if config.label_head and not {"file", "launcher"} <= set(classes):
        log.info(f"{path}: its label head is left out (it needs the classes file and launcher)")
        config = dataclasses.replace(config, label_head=False)
    return config


def _state(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: corrupt model weights ({exc})") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig, dict]:
    """(model in eval mode, its config, its metadata) from a model file; nothing else is needed."""
    path = Path(path)
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: unusable model config ({exc})") from None
    model = create_model(config)
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in _state(path).items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{path}: weights do not fit architecture {config.arch} ({first})") from None
    return model.to(device).eval(), config, meta


def init_from(model: nn.Module, path: str | Path) -> list[str]:
    """Start `model` from a deskvision model file (transfer learning offline).

    Every matching tensor is copied; when the classes differ the box predictor keeps its new,
    freshly initialised weights. Returns the names of the tensors not copied.
    """
    path = Path(path)
    meta = read_metadata(path)
    source = meta["config"].get("arch")
    target = getattr(model, "_deskvision_arch", source)
    if source not in (target, EXTENDS.get(target)):
        raise ModelError(f"{path}: is a {source} model, cannot initialise a {target}")
    return load_matching(model, _state(path), str(path))
