"""The counting of scripts/miss_analysis.py, the proposal cut of scripts/inference_variants.py
and the weight average of scripts/average_models.py (benchmark and recipe tools)."""

import collections
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from deskvision.detections import Detections, box_iou
from deskvision.errors import DeskvisionError
from deskvision.models import ModelConfig, create_model
from deskvision.models.io import load_model, save_model


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


miss_analysis = _script("miss_analysis")
inference_variants = _script("inference_variants")
average_models = _script("average_models")


def test_false_positives_are_counted_by_what_lies_under_them():
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], np.float64)
    labels = np.array(["launcher", "file", "launcher"])
    dets = np.array(
        [
            [0, 0, 10, 10],  # launcher on the launcher: true
            [0, 0, 10, 11],  # second launcher there: duplicate
            [20, 0, 30, 10],  # launcher on the file
            [40, 0, 54, 10],  # launcher at IoU 0.71 with the other launcher: true
            [100, 100, 110, 110],  # launcher on nothing
            [20, 0, 30, 10],  # file on the file, below 0.5: not counted
        ],
        np.float64,
    )
    names = np.array(["launcher"] * 5 + ["file"])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.4])
    out = {"launcher": collections.Counter(), "file": collections.Counter()}
    miss_analysis.false_positives(names, scores, labels, box_iou(truth, dets), out)
    assert out["launcher"] == {"true": 2, "duplicate": 1, "on:file": 1, "background": 1}
    assert out["file"] == {}


def test_keeping_the_first_proposals_is_a_model_set_to_keep_fewer():
    torch.manual_seed(0)
    model = create_model(ModelConfig(classes=("folder", "close"))).eval()
    image = torch.randint(0, 256, (3, 240, 320), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    names = ("__background__", "folder", "close")
    found = inference_variants.detect(model, image, [200, 40], names)  # keyed (count, RoIAlign sampling)
    model.rpn._post_nms_top_n["testing"] = 40
    with torch.inference_mode():
        want = Detections.from_torchvision(model([image])[0], names)
    assert len(want) > 0
    ratio = model.roi_heads.box_roi_pool.sampling_ratio
    assert np.array_equal(found[40, ratio].xyxy, want.xyxy) and np.array_equal(found[40, ratio].scores, want.scores)
    assert len(found[200, ratio]) != len(found[40, ratio]) or not np.array_equal(found[200, ratio].xyxy, want.xyxy)
    # other RoIAlign sampling: as a model set to it, and the model's own setting is put back
    other = inference_variants.detect(model, image, [40], names, sampling=[1, ratio])
    assert model.roi_heads.box_roi_pool.sampling_ratio == ratio
    assert np.array_equal(other[40, ratio].scores, want.scores) and not np.array_equal(other[40, 1].scores, want.scores)
    model.roi_heads.box_roi_pool.sampling_ratio = 1
    with torch.inference_mode():
        assert np.array_equal(Detections.from_torchvision(model([image])[0], names).scores, other[40, 1].scores)


def test_a_weight_average_is_the_mean_of_every_float_tensor(tmp_path):
    config = ModelConfig(classes=("folder", "close"))
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(tmp_path / f"m{seed}.safetensors")
        save_model(create_model(config), config, paths[-1])
    a, b = (load_model(p)[0].state_dict() for p in paths)
    soup, soup_config, _ = average_models.average([str(p) for p in paths])
    assert soup_config == config
    for k, v in soup.state_dict().items():
        want = (a[k].float() + b[k].float()) / 2 if v.is_floating_point() else a[k]
        assert torch.allclose(v.float(), want.float(), atol=1e-6), k
    weighted, _, _ = average_models.average([str(p) for p in paths], [0.25, 0.75])
    k = next(k for k, v in a.items() if v.is_floating_point() and not torch.equal(v, b[k]))
    assert torch.allclose(weighted.state_dict()[k], 0.25 * a[k] + 0.75 * b[k], atol=1e-6)
    other = ModelConfig(classes=("folder", "file"))
    save_model(create_model(other), other, tmp_path / "other.safetensors")
    with pytest.raises(DeskvisionError, match="classes differ"):
        average_models.average([str(paths[0]), str(tmp_path / "other.safetensors")])
    with pytest.raises(DeskvisionError, match="summing to 1"):
        average_models.average([str(p) for p in paths], [0.5, 0.6])
