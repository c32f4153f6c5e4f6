"""The ONNX Runtime path: exported convolutions give PyTorch's numbers, stale or missing exports
are refused (or skipped by "auto"), and every failure is a clear ModelError."""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from deskvision.errors import ModelError
from deskvision.inference import Detector
from deskvision.inference.onnxrt import export_onnx, onnx_paths, quantize_onnx
from deskvision.models import ModelConfig, create_model, load_model, save_model
from deskvision.utils.runtime import cpu_name, keep_freed_memory

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture()
def exported(tmp_path, request):
    torch.manual_seed(0)
    cfg = ModelConfig(classes=("folder", "close"), separable=getattr(request, "param", False))
    path = tmp_path / "m.safetensors"
    save_model(create_model(cfg), cfg, path)
    export_onnx(path)
    return path


@pytest.mark.parametrize("exported", [False, True], ids=["dense", "separable"], indirect=True)
def test_onnx_convolutions_match_torch_and_detect_end_to_end(exported):
    torch_det = Detector.load(exported, runtime="torch", threshold=0.0)
    onnx_det = Detector.load(exported, runtime="onnx", threshold=0.0)
    assert (torch_det.runtime, onnx_det.runtime) == ("torch", "onnx")
    # auto takes ONNX Runtime on the CPU when the export is there
    assert Detector.load(exported).runtime == "onnx"
    images = torch.rand(2, 3, 160, 224)  # a batch, at a size never exported
    with torch.no_grad():
        want = torch_det.model.backbone(images)
        got = onnx_det.model.backbone(images)
        assert list(got) == list(want)
        for name in want:
            torch.testing.assert_close(got[name], want[name], atol=1e-4, rtol=1e-4)
        for a, b in zip(torch_det.model.rpn.head(list(want.values())), onnx_det.model.rpn.head(list(got.values())), strict=True):
            for x, y in zip(a, b, strict=True):
                torch.testing.assert_close(y, x, atol=1e-4, rtol=1e-4)
    picture = (np.random.default_rng(0).random((120, 200, 3)) * 255).astype(np.uint8)
    found = onnx_det(picture)
    assert found.class_names == torch_det(picture).class_names and len(found) > 0


def test_a_stale_or_missing_export_is_refused_and_auto_falls_back(exported, tmp_path):
    cfg = ModelConfig(classes=("folder", "close"))
    torch.manual_seed(1)
    save_model(create_model(cfg), cfg, exported)  # retrained: the export is now stale
    with pytest.raises(ModelError, match="exported from other weights"):
        Detector.load(exported, runtime="onnx")
    assert Detector.load(exported).runtime == "torch"
    for p in onnx_paths(exported):
        p.unlink()
    with pytest.raises(ModelError, match="no ONNX export .*`deskvision export-onnx"):
        Detector.load(exported, runtime="onnx")
    assert Detector.load(exported, runtime="auto").runtime == "torch"
    with pytest.raises(ModelError, match="unknown runtime 'tensorrt'"):
        Detector.load(exported, runtime="tensorrt")


def test_an_export_stays_valid_until_the_convolutions_change(exported):
    model, cfg, _ = load_model(exported)
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias.add_(1.0)  # the box head is not exported
    save_model(model, dataclasses.replace(cfg, titlebar_sides=(16.0,)), exported)
    assert Detector.load(exported, runtime="onnx").runtime == "onnx"
    for module in (model.backbone, model.rpn.head):
        with torch.no_grad():
            next(module.parameters()).add_(1e-3)
        save_model(model, cfg, exported)
        with pytest.raises(ModelError, match="exported from other weights"):
            Detector.load(exported, runtime="onnx")
        export_onnx(exported)


def test_a_corrupt_export_is_a_clear_error(exported):
    onnx_paths(exported)[1].write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="unreadable ONNX file"):
        Detector.load(exported, runtime="onnx")


def test_export_without_the_onnx_package_says_what_to_install(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ModelError, match=r"pip install 'deskvision\[onnx\]'"):
        export_onnx(exported)


def _screens(folder, count: int = 3) -> list:
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        pixels = np.full((120, 200, 3), 230, np.uint8)
        pixels[20:60, 30 + 20 * i : 90 + 20 * i] = rng.integers(0, 255, 3)  # a flat "window"
        Image.fromarray(pixels).save(folder / f"shot{i}.png")
        paths.append(folder / f"shot{i}.png")
    return paths


def test_int8_copies_stay_close_to_float_and_auto_prefers_them(exported, tmp_path):
    shots = _screens(tmp_path / "shots")
    assert Detector.load(exported, runtime="auto").runtime == "onnx"  # no int8 copies yet
    with pytest.raises(ModelError, match=r"no int8 copy .*export-onnx .* --int8"):
        Detector.load(exported, runtime="int8")
    paths = quantize_onnx(exported, shots, count=2)
    assert paths == onnx_paths(exported, int8=True) and all(p.is_file() for p in paths)
    assert Detector.load(exported).runtime == "int8"  # auto takes them
    float_det, int8_det = Detector.load(exported, runtime="onnx"), Detector.load(exported, runtime="int8")
    images = float_det.model.transform([pil_to_tensor(Image.open(shots[0]))])[0]
    with torch.no_grad():
        want, got = float_det.model.backbone(images.tensors), int8_det.model.backbone(images.tensors)
    for name in want:
        # 8 bits over each tensor's range: close to the float features, not equal to them
        error = (got[name] - want[name]).abs().mean() / want[name].abs().mean()
        assert 0 < error < 0.1, (name, float(error))
    assert int8_det(shots[1]).class_names == float_det.class_names  # end to end from a file
    with pytest.raises(ModelError, match="none given"):
        quantize_onnx(exported, [])
    cfg = ModelConfig(classes=("folder", "close"))
    torch.manual_seed(2)
    save_model(create_model(cfg), cfg, exported)  # retrained: every export is stale
    with pytest.raises(ModelError, match="exported from other weights"):
        Detector.load(exported, runtime="int8")
    assert Detector.load(exported).runtime == "torch"
    quantize_onnx(exported, shots, count=1)  # exports the float convolutions again first
    assert Detector.load(exported).runtime == "int8" and Detector.load(exported, runtime="onnx").runtime == "onnx"


def _quantised_convs(path) -> dict[str, bool]:
    """Each conv of a QDQ model: whether its weights come dequantised from int8."""
    import onnx

    graph = onnx.load(str(path)).graph
    dequantised = {out for n in graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    return {n.name: n.input[1] in dequantised for n in graph.node if n.op_type == "Conv"}


def test_mixed_int8_keeps_the_stem_and_depthwise_convs_in_float(exported, tmp_path):
    shots = _screens(tmp_path / "shots")
    backbone = onnx_paths(exported, int8=True)[0]
    quantize_onnx(exported, shots, count=1)  # all int8, the default
    assert all(_quantised_convs(backbone).values())
    quantize_onnx(exported, shots, count=1, mixed=True)
    convs = _quantised_convs(backbone)
    stem, depthwise = "/backbone/body/stem/stem.0/stem.0.0/Conv", "/backbone/body/c2/c2.0/c2.0.0/Conv"
    assert not convs[stem] and not convs[depthwise]
    assert convs["/backbone/body/c2/c2.0/c2.0.3/Conv"] and convs["/backbone/fpn/layer_blocks.0/layer_blocks.0.0/Conv"]
    assert all(_quantised_convs(onnx_paths(exported, int8=True)[1]).values())  # the RPN head's convs are dense
    assert Detector.load(exported).runtime == "int8"
    proc = run_cli("export-onnx", str(exported), "--mixed")
    assert proc.returncode == 2 and "--mixed applies to the int8 copies" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_evaluate_and_bench_name_the_runtime_they_used(tmp_path):
    from conftest import GLYPH_CLASSES, make_glyph_screens

    make_glyph_screens(tmp_path / "g", 2)
    cfg = ModelConfig(classes=GLYPH_CLASSES)
    model = tmp_path / "g.safetensors"
    save_model(create_model(cfg), cfg, model)

    data = str(tmp_path / "g" / "annotations.json")
    missing = run_cli("evaluate", str(model), data, "--runtime", "onnx")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "no ONNX export" in missing.stderr
    assert run_cli("export-onnx", str(model)).returncode == 0
    evaluated = run_cli("evaluate", str(model), data)
    assert evaluated.returncode == 0 and "runtime onnx" in evaluated.stdout
    (tmp_path / "empty").mkdir()
    no_shots = run_cli("export-onnx", str(model), "--int8", str(tmp_path / "empty"))
    assert no_shots.returncode == 2 and "no images in this folder" in no_shots.stderr and "Traceback" not in no_shots.stderr
    quantized = run_cli("export-onnx", str(model), "--int8", data, "--calibration-images", "1")
    assert quantized.returncode == 0 and "g.backbone.int8.onnx" in quantized.stdout
    evaluated = run_cli("evaluate", str(model), data)
    assert evaluated.returncode == 0 and "runtime int8" in evaluated.stdout
    bench = run_cli(
        "bench", str(tmp_path / "g" / "images" / "screen_000.png"), "-m", str(model), "--runs", "1", "--runtime", "torch"
    )
    assert bench.returncode == 0 and "(torch)" in bench.stdout
    assert f"threads on {cpu_name()}" in bench.stdout  # the machine is named


# Page faults of four rounds of blocks of the given MB, written then freed (30, 20 and 25: a
# detection's temporaries at 1080p; 60 and 45: a training batch's), after the first round; with
# keep_freed_memory() ("keep"), with every_block ("every") or without ("plain").
_FAULTS = """
import resource, sys
import numpy as np
from deskvision.utils.runtime import keep_freed_memory
mode, sizes = sys.argv[1], [int(n) for n in sys.argv[2].split(",")]
kept = keep_freed_memory(every_block=mode == "every") if mode != "plain" else None
faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [np.ones(n << 18, np.float32) for n in sizes]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, max(faults[1:]))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_freed_memory_is_reused_without_page_faults():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}

    def faults(mode: str, sizes: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode, sizes], env=env, capture_output=True, text=True, check=True)
        kept, count = out.stdout.split()
        return kept, int(count)

    kept, with_it = faults("keep", "30,20,25")
    assert kept == "True"
    assert with_it < 50 < faults("plain", "30,20,25")[1]  # glibc alone hands the blocks back and faults them in again
    # blocks above 32 MiB: mmapped whatever the threshold, unless every block comes from the heap
    assert faults("keep", "60,45")[1] > 50
    kept, with_it = faults("every", "60,45")
    assert kept == "True" and with_it < 50


def test_malloc_settings_of_the_environment_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert keep_freed_memory() is False
