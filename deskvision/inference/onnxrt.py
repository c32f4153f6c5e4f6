"""ONNX Runtime for a model's convolutions on CPU.

The backbone with its feature pyramid and the RPN head (the convolutions: about 80 % of the CPU
time) are exported to two ONNX files next to the model file; anchors, proposals, RoIAlign, the
box head and NMS stay in torchvision. On 2 CPU cores this measured ~10 % faster than PyTorch with
channels-last tensors, ~20 % faster than its default layout, with the same detections up to a
rare box near a cut-off (BENCHMARKS.md). Each ONNX file records the SHA-256 of the convolution
weights it was exported from (`weights_digest`), so a retrained model never runs with stale
convolutions.

`quantize_onnx` adds int8 copies (ONNX Runtime static quantisation, calibrated on screenshots):
for the shipped model 10 to 19 % less time end to end than the float export, within 0.003 mAP
on our sets (BENCHMARKS.md, "Inference speed").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.transforms.functional import pil_to_tensor

from deskvision.data.jsonio import new_temp
from deskvision.errors import ModelError
from deskvision.models.io import load_model, read_metadata

log = logging.getLogger("deskvision")

DIGEST_KEY = "deskvision_weights_sha256"
RUNTIMES = ("auto", "torch", "onnx", "int8")
_EXPORTED = ("backbone.", "rpn.head.")  # the modules the two ONNX files stand in for


def onnx_paths(model_path: str | Path, int8: bool = False) -> tuple[Path, Path]:
    """Where the ONNX files of a model file live: ``NAME.backbone.onnx`` and ``NAME.rpn.onnx``
    (``NAME.backbone.int8.onnx`` and ``NAME.rpn.int8.onnx`` for the int8 copies)."""
    path = Path(model_path)
    stem = path.name.removesuffix(".safetensors")
    kind = ".int8" if int8 else ""
    return path.with_name(f"{stem}.backbone{kind}.onnx"), path.with_name(f"{stem}.rpn{kind}.onnx")


def weights_digest(model_path: str | Path) -> str:
    """SHA-256 of what the ONNX files compute: the architecture name and the backbone and RPN-head
    tensors (names, dtypes, shapes, bytes). A model that differs only in its heads, thresholds or
    other settings keeps its export."""
    from safetensors import SafetensorError, safe_open

    path = Path(model_path)
    digest = hashlib.sha256(json.dumps(read_metadata(path)["config"].get("arch")).encode())
    try:
        with safe_open(str(path), framework="pt") as f:
            names = f.keys()  # a safetensors file is not iterable
            for key in sorted(k for k in names if k.startswith(_EXPORTED)):
                tensor = f.get_tensor(key).contiguous()
                digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
                digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: corrupt model weights ({exc})") from None
    return digest.hexdigest()


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
    onnx = _need_onnx()
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


def _need_onnx():
    try:
        import onnx
    except ImportError:
        raise ModelError("exporting to ONNX needs the onnx package: pip install 'deskvision[onnx]'") from None
    return onnx


def quantize_onnx(
    model_path: str | Path,
    screenshots: Sequence[str | Path],
    count: int = 32,
    seed: int = 0,
    mixed: bool = False,
) -> tuple[Path, Path]:
    """Write int8 copies of a model's ONNX export (made first if missing or stale), calibrated
    on `count` of `screenshots` drawn with `seed`; returns the two paths. `mixed`: the nodes
    that int8 makes slower stay in float (`float_nodes`).

    Static quantisation in ONNX Runtime (QDQ, int8 weights per channel, uint8 activations, ranges
    from the min and max seen on the calibration screenshots, which go through the model's
    own resizing as at inference)."""
    onnx = _need_onnx()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from deskvision.data.images import load_image

    if not screenshots:
        raise ModelError("int8 calibration needs screenshots: none given")
    sources = onnx_paths(model_path)
    digest = weights_digest(model_path)
    if not all(p.is_file() for p in sources) or any(_digest_of(p) != digest for p in sources):
        export_onnx(model_path)
    model = load_model(model_path)[0].eval()
    picked = random.Random(seed).sample(range(len(screenshots)), min(count, len(screenshots)))
    images, features = [], []
    with torch.inference_mode():
        for i in picked:
            batch, _ = model.transform([pil_to_tensor(load_image(screenshots[i]))])
            images.append(batch.tensors.numpy().copy())
            features.append([f.numpy().copy() for f in model.backbone(batch.tensors).values()])

    class Feeds(CalibrationDataReader):
        def __init__(self, feeds: list[dict]):
            self.feeds = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    feeds = (
        [{"images": x} for x in images],
        [{f"feature_{k}": f for k, f in enumerate(fs)} for fs in features],
    )
    targets = onnx_paths(model_path, int8=True)
    for source, target, calibration in zip(sources, targets, feeds, strict=True):
        prepared, tmp = new_temp(target), new_temp(target)
        try:
            quant_pre_process(str(source), prepared)
            excluded = float_nodes(onnx.load(prepared)) if mixed else []
            quantize_static(
                prepared, tmp, Feeds(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True,
                nodes_to_exclude=excluded,
            )  # fmt: skip
            os.replace(tmp, target)
        finally:
            for leftover in (prepared, tmp):
                Path(leftover).unlink(missing_ok=True)
    return targets


def float_nodes(model) -> list[str]:
    """The nodes of an ONNX model that `quantize_onnx(mixed=True)` keeps in float: depthwise
    convs, convs of 3 input channels (the stem) and resizes, whose int8 kernels in ONNX Runtime
    ran 2-7x slower than float ones on an AMD CPU without VNNI (node profiles in BENCHMARKS.md).
    End to end the shipped backbone gained only 2-6 ms there, so this is not the default."""
    dims = {w.name: w.dims for w in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        weight = dims.get(node.input[1]) if node.op_type == "Conv" else None
        stem = weight is not None and weight[1] <= 3  # (out, in, kh, kw)
        if node.op_type == "Resize" or (node.op_type == "Conv" and (group > 1 or stem)):
            kept.append(node.name)
    return kept


def _digest_of(path: Path) -> str | None:
    onnx = _need_onnx()
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return props.get(DIGEST_KEY)


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


def use_onnx_runtime(model: nn.Module, model_path: str | Path, threads: int | None = None, int8: bool = False) -> None:
    """Run `model`'s convolutions with ONNX Runtime (in place), from the int8 copies with
    `int8`; ModelError if that cannot be done."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("ONNX Runtime is not installed: pip install onnxruntime") from None

    paths = onnx_paths(model_path, int8)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        what, flag = ("int8 copy of the ONNX export", " --int8 SCREENSHOTS") if int8 else ("ONNX export", "")
        raise ModelError(f"no {what} of {model_path} ({', '.join(missing)}): run `deskvision export-onnx {model_path}{flag}`")
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

    ``auto`` takes ONNX Runtime on the CPU when the model's export is there and matches — its
    int8 copies when those are there too — else torch; ``onnx`` (float) and ``int8`` insist
    (ModelError when they cannot); ``torch`` never uses ONNX Runtime.
    """
    check_runtime(runtime)
    if runtime == "torch":
        return "torch"
    if device.type != "cpu":
        if runtime != "auto":
            raise ModelError(f"the ONNX runtime runs on the CPU only, not on {device}")
        return "torch"
    for choice in ("int8", "onnx") if runtime == "auto" else (runtime,):
        try:
            use_onnx_runtime(model, model_path, int8=choice == "int8")
            return choice
        except ModelError as exc:
            if runtime != "auto":
                raise
            log.debug(f"ONNX Runtime ({choice}) not used: {exc}")
    return "torch"
