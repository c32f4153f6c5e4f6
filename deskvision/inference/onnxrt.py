"""ONNX Runtime for a model's convolutions on CPU.

The backbone with its feature pyramid and the RPN head (the convolutions: about 80 % of the CPU
time) are exported to two ONNX files next to the model file; anchors, proposals, RoIAlign, the
box head and NMS stay in torchvision. On 2 CPU cores this measured ~10 % faster than PyTorch with
channels-last tensors, ~20 % faster than its default layout, with the same detections up to a
rare box near a cut-off (BENCHMARKS.md). Each ONNX file records the SHA-256 of the weights it was exported
from, so a retrained model never runs with stale convolutions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from deskvision.data.jsonio import new_temp
from deskvision.errors import ModelError
from deskvision.models.io import load_model

log = logging.getLogger("deskvision")

DIGEST_KEY = "deskvision_weights_sha256"
RUNTIMES = ("auto", "torch", "onnx")


def onnx_paths(model_path: str | Path) -> tuple[Path, Path]:
    """Where the ONNX files of a model file live: ``NAME.backbone.onnx`` and ``NAME.rpn.onnx``."""
    path = Path(model_path)
    stem = path.name.removesuffix(".safetensors")
    return path.with_name(f"{stem}.backbone.onnx"), path.with_name(f"{stem}.rpn.onnx")


def weights_digest(model_path: str | Path) -> str:
    return hashlib.sha256(Path(model_path).read_bytes()).hexdigest()


class _Features(nn.Module):
    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.backbone(images).values())


class _Head(nn.Module):
    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, *features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        objectness, deltas = self.head(list(features))
        return (*objectness, *deltas)


def export_onnx(model_path: str | Path) -> tuple[Path, Path]:
    """Export the convolutions of a model file to ONNX, next to it; returns the two paths."""
    try:
        import onnx
    except ImportError:
        raise ModelError("exporting to ONNX needs the onnx package: pip install 'deskvision[onnx]'") from None
    model = load_model(model_path)[0]
    backbone_path, rpn_path = onnx_paths(model_path)
    digest = weights_digest(model_path)
    example = torch.zeros(1, 3, 256, 320)  # any size that is a multiple of 32
    with torch.no_grad():  # not inference_mode: the exporter traces the features again
        out = model.backbone(example)
    names, features = list(out.keys()), tuple(out.values())

    def hw(name: str) -> dict[int, str]:  # every tensor has its own height and width
        return {0: "batch", 2: f"{name}_height", 3: f"{name}_width"}

    fnames = [f"feature_{i}" for i in range(len(names))]
    heads = [f"objectness_{i}" for i in range(len(names))] + [f"deltas_{i}" for i in range(len(names))]
    jobs = [
        (_Features(model.backbone), (example,), backbone_path, ["images"], fnames, {n: hw(n) for n in ["images", *fnames]}),
        (_Head(model.rpn.head), features, rpn_path, fnames, heads, {n: hw(n) for n in fnames + heads}),
    ]
    for module, args, path, inputs, outputs, axes in jobs:
        tmp = new_temp(path)
        try:
            # The TorchScript exporter (deprecated, kept by torch < 2.15) needs only the onnx
            # package; the dynamo exporter would add onnxscript for no gain on plain convolutions.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.onnx.export(
                    module.eval(), args, tmp, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                    opset_version=17, dynamo=False,
                )  # fmt: skip
            proto = onnx.load(tmp)
            for key, value in ((DIGEST_KEY, digest), ("feature_names", json.dumps(names))):
                entry = proto.metadata_props.add()
                entry.key, entry.value = key, value
            onnx.save(proto, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return backbone_path, rpn_path


class _OrtModule(nn.Module):
    def __init__(self, session):
        super().__init__()
        self.session = session

    def _run(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        feed = {i.name: t.detach().cpu().contiguous().numpy() for i, t in zip(self.session.get_inputs(), tensors, strict=True)}
        return [torch.from_numpy(a) for a in self.session.run(None, feed)]


class OrtBackbone(_OrtModule):
    """Stands in for `model.backbone`: images → OrderedDict of pyramid features."""

    def __init__(self, session, names: list[str], out_channels: int):
        super().__init__(session)
        self.names, self.out_channels = names, out_channels

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return OrderedDict(zip(self.names, self._run([images]), strict=True))


class OrtRpnHead(_OrtModule):
    """Stands in for `model.rpn.head`: features → (objectness per level, box deltas per level)."""

    def forward(self, features: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        out = self._run(features)
        return out[: len(features)], out[len(features) :]


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")


def use_onnx_runtime(model: nn.Module, model_path: str | Path, threads: int | None = None) -> None:
    """Run `model`'s convolutions with ONNX Runtime (in place); ModelError if that cannot be done."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("ONNX Runtime is not installed: pip install onnxruntime") from None

    paths = onnx_paths(model_path)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ModelError(f"no ONNX export of {model_path} ({', '.join(missing)}): run `deskvision export-onnx {model_path}`")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    # idle ORT threads must not spin: torch runs the rest of the model on the same cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    digest = weights_digest(model_path)
    sessions, metas = [], []
    for path in paths:
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: unreadable ONNX file ({str(exc).splitlines()[0]})") from None
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get(DIGEST_KEY) != digest:
            raise ModelError(f"{path} was exported from other weights than {model_path}: export again")
        sessions.append(session)
        metas.append(meta)
    names = json.loads(metas[0]["feature_names"])
    model.backbone = OrtBackbone(sessions[0], names, model.backbone.out_channels)
    model.rpn.head = OrtRpnHead(sessions[1])


def apply_runtime(model: nn.Module, model_path: str | Path, runtime: str, device: torch.device) -> str:
    """Set up `runtime` for `model` (loaded from `model_path`); returns the one in use.

    ``auto`` takes ONNX Runtime on the CPU when the model's export is there and matches, else
    torch; ``onnx`` insists (ModelError when it cannot); ``torch`` never uses it.
    """
    check_runtime(runtime)
    if runtime == "torch":
        return "torch"
    if device.type != "cpu":
        if runtime == "onnx":
            raise ModelError(f"the ONNX runtime runs on the CPU only, not on {device}")
        return "torch"
    try:
        use_onnx_runtime(model, model_path)
    except ModelError as exc:
        if runtime == "onnx":
            raise
        log.debug(f"ONNX Runtime not used: {exc}")
        return "torch"
    return "onnx"
