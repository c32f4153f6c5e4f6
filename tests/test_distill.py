"""Separable convs at the finest strides (`ModelConfig.separable`) and their distillation from a
model without them (`deskvision distill-separable`)."""

from __future__ import annotations

import pytest
import torch
from conftest import run_cli
from torch import nn

from deskvision.errors import DataError, ModelError
from deskvision.models import ModelConfig, create_model, load_model, save_model
from deskvision.models.factory import make_separable, separable_parts
from deskvision.models.io import stored_in_half

CLASSES = ("folder", "close")


def _macs_per_position(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def test_separable_models_swap_only_the_finest_dense_convs_and_round_trip(tmp_path):
    dense = create_model(ModelConfig(classes=CLASSES)).eval()
    torch.manual_seed(0)
    cfg = ModelConfig(classes=CLASSES, separable=True)
    light = create_model(cfg).eval()
    fpn, dense_fpn = light.backbone.fpn, dense.backbone.fpn
    for level in (0, 1):  # strides 4 and 8: depthwise 3x3 + pointwise, ~8x fewer multiply-adds
        depthwise = fpn.layer_blocks[level][0]
        assert depthwise.groups == depthwise.in_channels == 64 and depthwise.kernel_size == (3, 3)
        assert _macs_per_position(fpn.layer_blocks[level]) * 7 < _macs_per_position(dense_fpn.layer_blocks[level])
    for level in (2, 3):  # coarser levels cost little and stay dense
        assert fpn.layer_blocks[level][0].groups == 1
    assert light.rpn.head.conv[0].groups == 64 and isinstance(light.rpn.head.conv[-1], nn.ReLU)
    assert _macs_per_position(light.rpn.head.conv) * 7 < _macs_per_position(dense.rpn.head.conv)
    save_model(light, cfg, tmp_path / "light.safetensors")
    loaded, cfg2, _ = load_model(tmp_path / "light.safetensors")
    assert cfg2.separable
    images = [torch.rand(3, 128, 160)]
    with torch.no_grad():
        want, got = light(images)[0], loaded(images)[0]
    for key in want:
        torch.testing.assert_close(got[key], want[key])
    model = create_model(ModelConfig(classes=CLASSES))
    model.backbone = nn.Identity()
    with pytest.raises(ModelError, match="separable convs need a backbone with a feature pyramid"):
        make_separable(model)


def test_separable_parts_are_named_and_old_files_mean_both():
    assert ModelConfig(separable=True).separable == ("fpn", "rpn")  # model files of 2026-12-07
    assert ModelConfig(separable=False).separable == ()
    assert ModelConfig.from_dict({"separable": ["rpn"]}).separable == ("rpn",)
    assert separable_parts("rpn, fpn") == ("fpn", "rpn")  # one order whatever the user's
    with pytest.raises(ValueError, match="unknown separable part 'box'"):
        separable_parts("rpn,box")
    light = create_model(ModelConfig(classes=CLASSES, separable=("rpn",)))
    assert all(block[0].groups == 1 for block in light.backbone.fpn.layer_blocks)  # the pyramid stays dense
    assert light.rpn.head.conv[0].groups == 64


def _pyramid_errors(teacher: nn.Module, student: nn.Module, x: torch.Tensor) -> list[float]:
    """Squared errors of the student's stride-4 and -8 features and RPN conv outputs there,
    each relative to the teacher's."""
    with torch.no_grad():
        want, got = list(teacher.backbone(x).values())[:2], list(student.backbone(x).values())[:2]
        pairs = [*zip(got, want, strict=True)]
        pairs += [(student.rpn.head.conv(g), teacher.rpn.head.conv(w)) for g, w in zip(got, want, strict=True)]
    return [float(((g - w) ** 2).mean() / (w**2).mean()) for g, w in pairs]


def _distil(tmp_path, glyphs, *options: str):
    """Distil a fresh dense model with `distill-separable OPTIONS` on 96-px crops of `glyphs`:
    (CLI output, teacher, student, its config, its metadata)."""
    torch.manual_seed(0)
    cfg = ModelConfig(classes=CLASSES)
    teacher = create_model(cfg)
    teacher.rpn.head.conv[0][0].reset_parameters()  # outputs of a trained conv's scale, not torchvision's 0.01 init
    save_model(teacher, cfg, tmp_path / "teacher.safetensors")
    out = tmp_path / "student.safetensors"
    proc = run_cli(
        "distill-separable", str(tmp_path / "teacher.safetensors"), str(glyphs), "--out", str(out), "--crop", "96", *options
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, load_model(tmp_path / "teacher.safetensors")[0], *load_model(out)


def test_distilling_teaches_the_separable_convs_the_teachers_outputs(tmp_path, glyphs):
    stdout, teacher, student, config, meta = _distil(tmp_path, glyphs, "--steps", "150", "--batch", "2")
    assert "150 steps on crops of 8 screenshots" in stdout
    assert config.separable and meta["training"]["distill"]["steps"] == 150
    assert meta["training"]["distilled_from"].endswith("teacher.safetensors")
    assert not stored_in_half(tmp_path / "student.safetensors")  # stored as the teacher is (fp32)
    own = teacher.state_dict()
    new = ("backbone.fpn.layer_blocks.0.", "backbone.fpn.layer_blocks.1.", "rpn.head.conv.")
    for name, tensor in student.state_dict().items():  # every other weight is the teacher's
        if not name.startswith(new):
            torch.testing.assert_close(tensor, own[name])
    fresh = create_model(config).eval()  # the same student before distillation
    fresh.load_state_dict(student.state_dict())
    torch.manual_seed(1)
    for module in (fresh.backbone.fpn.layer_blocks[0], fresh.backbone.fpn.layer_blocks[1], fresh.rpn.head.conv):
        for layer in module:
            if isinstance(layer, nn.Conv2d):
                layer.reset_parameters()
    from PIL import Image
    from torchvision.transforms.functional import pil_to_tensor

    picture = pil_to_tensor(Image.open(glyphs.parent / "images" / "screen_000.png").convert("RGB")).float()[None] / 255
    x = teacher.transform.normalize(picture)
    before, after = _pyramid_errors(teacher, fresh, x), _pyramid_errors(teacher, student, x)
    assert all(a < 0.5 * b for a, b in zip(after, before, strict=True)), (before, after)


def test_distill_errors_are_clear(tmp_path, glyphs):
    cfg = ModelConfig(classes=CLASSES, separable=True)
    save_model(create_model(cfg), cfg, tmp_path / "light.safetensors")
    proc = run_cli(
        "distill-separable", str(tmp_path / "light.safetensors"), str(glyphs), "--out", str(tmp_path / "o.safetensors")
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "separable already" in proc.stderr, proc.stderr
    proc = run_cli(
        "distill-separable", str(tmp_path / "missing.safetensors"), str(glyphs), "--out", str(tmp_path / "o.safetensors")
    )
    assert proc.returncode != 0 and "model file not found" in proc.stderr and "Traceback" not in proc.stderr
    for parts, message in (("rpn,box", "unknown separable part 'box'"), (",", "nothing to make separable")):
        proc = run_cli(
            "distill-separable", str(tmp_path / "light.safetensors"), str(glyphs), "--out", str(tmp_path / "o.safetensors"),
            "--parts", parts,
        )  # fmt: skip
        assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_distilling_only_the_rpn_conv_keeps_every_feature(tmp_path, glyphs):
    _, teacher, student, config, meta = _distil(tmp_path, glyphs, "--steps", "100", "--parts", "rpn")
    assert config.separable == ("rpn",) and meta["training"]["distill"]["parts"] == ["rpn"]
    own = teacher.state_dict()
    for name, tensor in student.state_dict().items():
        if not name.startswith("rpn.head.conv."):
            torch.testing.assert_close(tensor, own[name])
    # its objectness follows the teacher's better than a fresh separable conv's does
    fresh = create_model(config).eval()
    fresh.load_state_dict(student.state_dict())
    torch.manual_seed(1)
    for layer in fresh.rpn.head.conv:
        if isinstance(layer, nn.Conv2d):
            layer.reset_parameters()
    from PIL import Image
    from torchvision.transforms.functional import pil_to_tensor

    picture = pil_to_tensor(Image.open(glyphs.parent / "images" / "screen_000.png").convert("RGB")).float()[None] / 255
    with torch.no_grad():
        features = list(teacher.backbone(teacher.transform.normalize(picture)).values())
        teacher_logits, fresh_logits, student_logits = (
            torch.cat([o.flatten() for o in m.rpn.head(features)[0]]) for m in (teacher, fresh, student)
        )
        errors = [float(((logits - teacher_logits) ** 2).mean()) for logits in (fresh_logits, student_logits)]
    assert errors[1] < 0.5 * errors[0], errors


def test_an_interrupted_distillation_resumes_to_the_same_model(tmp_path, glyphs, monkeypatch):
    from deskvision.training import distill

    torch.manual_seed(0)
    cfg = ModelConfig(classes=CLASSES)
    save_model(create_model(cfg), cfg, tmp_path / "teacher.safetensors")
    settings = {"steps": 12, "batch": 1, "crop": 64, "checkpoint_steps": 5}
    distill.distill_separable(tmp_path / "teacher.safetensors", [glyphs], tmp_path / "whole.safetensors", **settings)
    out = tmp_path / "resumed.safetensors"
    calls, real_load = [], distill.load_image

    def failing_load(path):
        calls.append(path)
        if len(calls) > 8:  # step 8 of 12: after the checkpoint of step 5
            raise KeyboardInterrupt
        return real_load(path)

    monkeypatch.setattr(distill, "load_image", failing_load)
    with pytest.raises(KeyboardInterrupt):
        distill.distill_separable(tmp_path / "teacher.safetensors", [glyphs], out, **settings)
    assert distill.checkpoint_path(out).is_file() and not out.exists()
    with pytest.raises(DataError, match="other settings"):
        distill.distill_separable(tmp_path / "teacher.safetensors", [glyphs], out, **{**settings, "crop": 96}, resume=True)
    loaded = []
    monkeypatch.setattr(distill, "load_image", lambda path: loaded.append(path) or real_load(path))
    distill.distill_separable(tmp_path / "teacher.safetensors", [glyphs], out, **settings, resume=True)
    # steps 5 to 11 only (one screenshot each), steps 5 to 8 from the same screenshots as before
    assert len(loaded) == 7 and loaded[:4] == calls[5:9]
    assert not distill.checkpoint_path(out).exists()
    whole, resumed = load_model(tmp_path / "whole.safetensors")[0].state_dict(), load_model(out)[0].state_dict()
    for name, tensor in whole.items():
        torch.testing.assert_close(resumed[name], tensor, msg=name)
