"""Model factory, GUI-sized input handling, the one-file model format and offline initialisation."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from deskvision.errors import ModelError
from deskvision.models import ARCHITECTURES, ModelConfig, create_model, load_model, save_model
from deskvision.models.factory import ScreenTransform, snap_square_sides
from deskvision.models.io import init_from, read_metadata


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_builds_for_our_classes(arch):
    model = create_model(ModelConfig(arch=arch, classes=("folder", "close")))
    assert model.roi_heads.box_predictor.cls_score.out_features == 3  # 2 classes + background
    assert isinstance(model.transform, ScreenTransform)


def test_unknown_architecture():
    with pytest.raises(ModelError, match="unknown architecture 'yolo'"):
        create_model(ModelConfig(arch="yolo"))


def test_torchvision_weights_offline_give_one_clear_error(monkeypatch):
    from torchvision.models._api import WeightsEnum

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    with pytest.raises(ModelError, match="cannot download .*offline"):
        create_model(ModelConfig(arch="fasterrcnn_resnet50_fpn"), weights="torchvision")
    with pytest.raises(ModelError, match="no torchvision weights"):
        create_model(ModelConfig(), weights="torchvision")


def test_screens_are_never_upscaled_and_big_ones_come_down_to_max_size():
    t = ScreenTransform(1920).eval()
    small = torch.rand(3, 120, 200)
    full_hd = torch.rand(3, 1080, 1920)
    four_k = torch.rand(3, 2160, 3840)
    target = {"boxes": torch.tensor([[1000.0, 500.0, 1028.0, 528.0]])}
    assert t.resize(small)[0].shape == small.shape
    assert t.resize(full_hd)[0].shape == full_hd.shape  # a 14-px close button stays 14 px
    img, tgt = t.resize(four_k, target)
    assert img.shape[-2:] == (1080, 1920)
    assert tgt["boxes"].tolist() == [[500.0, 250.0, 514.0, 264.0]]


def test_uint8_screens_give_the_float_paths_batch():
    t = ScreenTransform(1600).eval()
    rng = torch.Generator().manual_seed(0)
    small = torch.randint(0, 256, (3, 720, 1000), generator=rng, dtype=torch.uint8)  # not resized
    full_hd = torch.randint(0, 256, (3, 1080, 1920), generator=rng, dtype=torch.uint8)  # brought down to 1600
    fast, none = t([small, full_hd])
    slow, _ = t([small.float() / 255, full_hd.float() / 255])
    assert none is None and fast.image_sizes == slow.image_sizes == [(720, 1000), (900, 1600)]
    assert fast.tensors.shape == slow.tensors.shape == (2, 3, 928, 1600)  # padded to a multiple of 32
    assert torch.equal(fast.tensors[0], slow.tensors[0])  # same operations, same order: same floats
    # resized in uint8: rounded to whole grey levels (in normalised units, 1/255/std), with
    # fixed-point weights: every pixel within two of the float path, half a level on average
    diff = (fast.tensors[1] - slow.tensors[1]).abs() * 0.229 * 255
    assert diff.max() <= 2 and diff.mean() <= 0.5
    assert (fast.tensors[1, :, 900:] == 0).all()  # the padding is zero, as torchvision pads
    with pytest.raises(ValueError, match="3d tensors"):
        t([full_hd[None]])


def test_gui_anchors_cover_a_14_px_button():
    cfg = ModelConfig()
    assert min(min(level) for level in cfg.anchor_sizes) <= 14 <= 20


@torch.inference_mode()
def test_gui_anchors_match_thin_text_fields_buttons_and_windows():
    """Each element shape gets an anchor at IoU >= 0.5 (the RPN's starting point): before the
    1:8 and 1:16 ratios, a 600-px location bar had none."""
    from torchvision.models.detection.image_list import ImageList
    from torchvision.ops import box_iou

    model = create_model(ModelConfig()).eval()
    image = torch.zeros(1, 3, 544, 960)
    features = list(model.backbone(image).values())
    anchors = model.rpn.anchor_generator(ImageList(image, [(544, 960)]), features)[0]
    shapes = {
        "location bar": [201, 101, 801, 129],
        "dialog entry": [300, 300, 526, 332],
        "title-bar button": [705, 9, 721, 25],
        "folder icon": [40, 40, 88, 88],
        "window": [100, 60, 700, 500],
    }
    boxes = torch.tensor(list(shapes.values()), dtype=torch.float32)
    best = box_iou(boxes, anchors).max(dim=1).values
    for name, iou in zip(shapes, best.tolist(), strict=True):
        assert iou >= 0.5, f"{name}: best anchor IoU {iou:.2f}"


def test_model_file_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(classes=("folder", "file"))
    model = create_model(cfg).eval()
    save_model(model, cfg, tmp_path / "m.safetensors", training={"images": 3})
    loaded, cfg2, meta = load_model(tmp_path / "m.safetensors")
    assert cfg2 == cfg and meta["training"] == {"images": 3} and meta["config"]["arch"] == "fasterrcnn_tiny_fpn"
    x = [torch.rand(3, 96, 128)]
    with torch.no_grad():
        a, b = model.backbone(x[0][None]), loaded.backbone(x[0][None])
    assert all(torch.equal(a[k], b[k]) for k in a)
    save_model(model, cfg, tmp_path / "h.safetensors", half=True)
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * (tmp_path / "m.safetensors").stat().st_size
    half, _, _ = load_model(tmp_path / "h.safetensors")
    assert next(half.parameters()).dtype == torch.float32


def test_title_bar_boxes_snap_to_the_sides_the_labelling_rule_draws():
    boxes = torch.tensor(
        [
            [100.0, 10.0, 118.0, 27.0],  # 18 x 17: a 16-px square, regressed a little large
            [200.0, 10.0, 213.0, 24.0],  # 13 x 14: 16 px too (never under 16 x scale)
            [300.0, 20.0, 326.0, 46.0],  # 26: a 32-px HiDPI button regressed small
            [400.0, 10.0, 460.0, 70.0],  # 60: beyond sqrt(2) x 32, kept as regressed
            [500.0, 10.0, 518.0, 27.0],  # not a title-bar button: untouched
            [0.5, 0.5, 14.5, 14.5],  # snapped at the screen's corner: never below 0
        ]
    )
    snap = torch.tensor([True, True, True, True, False, True])
    out = snap_square_sides(boxes, snap, (16.0, 32.0))
    assert out[0].tolist() == [101.0, 10.5, 117.0, 26.5]  # same centre, side 16
    assert out[1].tolist() == [198.5, 9.0, 214.5, 25.0]
    assert out[2].tolist() == [297.0, 17.0, 329.0, 49.0]
    assert torch.equal(out[3:5], boxes[3:5]) and out[5].tolist() == [0.0, 0.0, 15.5, 15.5]
    assert torch.equal(snap_square_sides(boxes, snap, ()), boxes)
    assert torch.equal(boxes[0], torch.tensor([100.0, 10.0, 118.0, 27.0]))  # the input is left alone


def test_a_model_with_titlebar_sides_snaps_its_buttons_in_screenshot_pixels(tmp_path):
    cfg = ModelConfig(max_size=100, titlebar_sides=(16.0,))
    model = create_model(cfg).eval()
    save_model(model, cfg, tmp_path / "m.safetensors")
    loaded, cfg2, _ = load_model(tmp_path / "m.safetensors")
    assert cfg2.titlebar_sides == (16.0,)
    close, button = cfg.classes.index("close") + 1, cfg.classes.index("button") + 1

    # boxes found on the 100 x 50 resized image of a 200 x 100 screenshot: 9 px there, 18 px here
    def found():  # postprocess rescales the boxes in place
        boxes = torch.tensor([[10.0, 10.0, 19.0, 19.0]] * 2)
        return [{"boxes": boxes, "labels": torch.tensor([close, button]), "scores": torch.ones(2)}]

    out = loaded.transform.postprocess(found(), [(50, 100)], [(100, 200)])[0]["boxes"]
    assert out.tolist() == [[21.0, 21.0, 37.0, 37.0], [20.0, 20.0, 38.0, 38.0]]
    # models without the setting (every file before it) keep their boxes as regressed
    plain = create_model(ModelConfig(max_size=100)).eval()
    assert plain.transform.postprocess(found(), [(50, 100)], [(100, 200)])[0]["boxes"].tolist() == [[20.0, 20.0, 38.0, 38.0]] * 2
    with pytest.raises(ValueError, match="titlebar_sides"):
        ModelConfig.from_dict({"titlebar_sides": [16, -1]})


def test_model_file_never_unpickles(tmp_path):
    evil = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, evil)  # a pickle, not safetensors
    with pytest.raises(ModelError, match="not a deskvision model file"):
        load_model(evil)
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "missing.safetensors")
    good = tmp_path / "m.safetensors"
    save_model(create_model(ModelConfig()), ModelConfig(), good)
    (tmp_path / "cut.safetensors").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelError):
        load_model(tmp_path / "cut.safetensors")


def test_init_from_a_model_with_other_classes_rebuilds_the_head(tmp_path):
    torch.manual_seed(0)
    source_cfg = ModelConfig(classes=("folder", "file", "trash"))
    source = create_model(source_cfg)
    save_model(source, source_cfg, tmp_path / "src.safetensors")
    target = create_model(ModelConfig(classes=("close",)))
    skipped = init_from(target, tmp_path / "src.safetensors")
    assert set(skipped) == {
        "roi_heads.box_predictor.cls_score.weight",
        "roi_heads.box_predictor.cls_score.bias",
        "roi_heads.box_predictor.bbox_pred.weight",
        "roi_heads.box_predictor.bbox_pred.bias",
    }
    assert torch.equal(target.backbone.body.c3[0][0].weight, source.backbone.body.c3[0][0].weight)
    assert read_metadata(tmp_path / "src.safetensors")["config"]["classes"] == ["folder", "file", "trash"]


def test_a_fine_tuning_model_reloads_with_the_same_structure(tmp_path):
    cfg = ModelConfig(arch="fasterrcnn_resnet50_fpn", classes=("close",), frozen_bn=True, trainable_backbone_layers=2)
    model = create_model(cfg)
    frozen = {name for name, p in model.backbone.body.named_parameters() if not p.requires_grad}
    assert frozen and all(not n.startswith(("layer3", "layer4")) for n in frozen)  # 2 trainable stages: layer3, layer4
    save_model(model, cfg, tmp_path / "ft.safetensors")
    loaded, cfg2, _ = load_model(tmp_path / "ft.safetensors")
    assert cfg2.frozen_bn and {n for n, p in loaded.backbone.body.named_parameters() if not p.requires_grad} == frozen


def _reach(body: torch.nn.Module, size: int = 1024) -> int:
    """How far (px) from the centre of the input a pixel still changes the centre c5 feature."""
    x = torch.rand(1, 3, size, size, requires_grad=True)
    c5 = body(x)["3"]  # c5, stride 32
    c5[0, :, c5.shape[2] // 2, c5.shape[3] // 2].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
    return int(max(size // 2 - cols.min(), cols.max() - size // 2))


def test_context_blocks_widen_the_view_and_start_as_the_identity(tmp_path):
    torch.manual_seed(0)
    plain_cfg = ModelConfig(classes=("window", "text_field"))
    plain = create_model(plain_cfg).eval()
    save_model(plain, plain_cfg, tmp_path / "plain.safetensors")
    wide = create_model(ModelConfig(arch="fasterrcnn_tiny_context_fpn", classes=("window", "text_field")))
    skipped = init_from(wide, tmp_path / "plain.safetensors")
    assert skipped and all(".c4.3." in n or ".c4.4." in n or ".c5.2." in n or ".c5.3." in n for n in skipped)
    wide.eval()
    x = torch.rand(1, 3, 256, 320)
    with torch.no_grad():
        for a, b in zip(plain.backbone(x).values(), wide.backbone(x).values(), strict=True):
            assert torch.allclose(a, b)  # the added blocks change nothing until trained
    # once trained (any non-zero last batch norm), the deepest features see much farther
    for m in wide.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(m.weight)
    body_plain, body_wide = plain.backbone.body.eval(), wide.backbone.body.eval()  # batch statistics would couple all pixels
    assert _reach(body_plain) < 150 and _reach(body_wide) > 350  # +-110 px, then +-400 px


def test_init_across_unrelated_architectures_is_refused(tmp_path):
    cfg = ModelConfig(arch="fasterrcnn_tiny_context_fpn", classes=("close",))
    save_model(create_model(cfg), cfg, tmp_path / "wide.safetensors")
    with pytest.raises(ModelError, match="cannot initialise"):
        init_from(create_model(ModelConfig(classes=("close",))), tmp_path / "wide.safetensors")


@torch.inference_mode()
def test_the_lean_rpn_proposes_exactly_what_torchvisions_does():
    """`SelectiveRPN` decodes only the anchors it keeps: same proposals as torchvision's pass,
    for the shipped model on real screenshots of two sizes, alone and batched (padding)."""
    from torchvision.models.detection.rpn import RegionProposalNetwork
    from torchvision.transforms.functional import pil_to_tensor

    from deskvision.data.images import load_image
    from deskvision.inference.detector import DEFAULT_MODEL
    from deskvision.models.rpn import SelectiveRPN

    model = load_model(str(DEFAULT_MODEL))[0].eval()
    assert isinstance(model.rpn, SelectiveRPN)
    shots = [pil_to_tensor(load_image(f"samples/{n}.png")).float() / 255 for n in ("real_desktop", "toy_desktop")]
    shots.append(shots[0][:, :500, :900])  # a size whose padding differs
    for batch in ([shots[0]], [shots[2]], shots):
        images, _ = model.transform(batch)
        features = model.backbone(images.tensors)
        lean, losses = model.rpn(images, features)
        reference, _ = RegionProposalNetwork.forward(model.rpn, images, features)
        assert losses == {}
        assert len(lean) == len(reference) == len(batch)
        for a, b in zip(lean, reference, strict=True):
            assert len(a) > 100
            assert torch.equal(a, b)


def test_the_lean_rpn_trains_as_torchvisions():
    """In training too: the same proposals, losses and gradients as torchvision's pass, for
    the shipped model on crops of a real screenshot, one of them without any box."""
    from torchvision.models.detection.rpn import RegionProposalNetwork
    from torchvision.transforms.functional import pil_to_tensor

    from deskvision.data.images import load_image
    from deskvision.inference.detector import DEFAULT_MODEL

    model = load_model(str(DEFAULT_MODEL))[0].float().train()
    shot = pil_to_tensor(load_image("samples/real_desktop.png")).float() / 255
    images = [shot[:, :320, :480], shot[:, 100:420, 200:600], shot[:, -300:, -400:]]
    g = torch.Generator().manual_seed(0)
    corner = torch.rand(40, 2, generator=g) * 300
    boxes = torch.cat([corner, corner + 6 + torch.rand(40, 2, generator=g) * 150], 1)
    targets = [
        {"boxes": boxes[:25], "labels": torch.ones(25, dtype=torch.long)},
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.long)},  # background
        {"boxes": boxes[25:], "labels": torch.ones(15, dtype=torch.long)},
    ]
    batch, targets = model.transform(images, targets)
    features = model.backbone(batch.tensors)
    results = []
    for forward in (RegionProposalNetwork.forward, type(model.rpn).forward):
        torch.manual_seed(3)  # the sampler's draws
        model.zero_grad(set_to_none=True)
        proposals, losses = forward(model.rpn, batch, features, targets)
        sum(losses.values()).backward(retain_graph=True)
        results.append((proposals, losses, [p.grad.clone() for p in model.rpn.head.parameters()]))
    (reference, expected, grads), (lean, losses, lean_grads) = results
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg"}
    assert losses["loss_rpn_box_reg"] > 0
    assert all(torch.equal(a, b) for a, b in zip(lean, reference, strict=True))
    # equal to the bit on the machines measured; a last-bit tolerance because a vectorised log
    # may round an element differently when it sits in a shorter array's scalar tail
    for k in expected:
        torch.testing.assert_close(losses[k], expected[k], rtol=1e-6, atol=0)
    for a, b in zip(lean_grads, grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("cells", [1, 50, 1 << 20])
def test_matching_in_slices_is_torchvisions_matcher(cells):
    """The same matches as torchvision's `Matcher` on the whole matrix, however it is sliced:
    low-quality matches (boxes no anchor overlaps well, ties between anchors) included."""
    from torchvision.models.detection._utils import Matcher
    from torchvision.ops import box_iou

    from deskvision.models.rpn import match_in_slices

    g = torch.Generator().manual_seed(1)
    corner = torch.rand(300, 2, generator=g) * 100
    anchors = torch.cat([corner, corner + 4 + torch.rand(300, 2, generator=g) * 40], 1)
    anchors = torch.cat([anchors, anchors[:20]])  # ties: the same anchor twice
    gt = torch.cat([anchors[:5] + 1, torch.tensor([[0.0, 0.0, 200.0, 200.0], [50.0, 50.0, 51.0, 51.0]])])
    for low_quality in (True, False):
        matcher = Matcher(0.7, 0.3, allow_low_quality_matches=low_quality)
        expected = matcher(box_iou(gt, anchors))
        assert (expected >= 0).sum() > 5
        assert torch.equal(match_in_slices(matcher, box_iou, gt, anchors, cells=cells), expected)


def test_gathered_roi_align_is_torchvisions_roi_align():
    """`roi_align_gather` (one weighted gather) against torchvision's kernel: boxes inside,
    across and outside the map's borders, tiny and large, two images, three sampling ratios."""
    from torchvision.ops import roi_align

    from deskvision.models.roi_align import roi_align_gather

    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 8, 20, 30, generator=g)
    corner = torch.rand(200, 2, generator=g) * torch.tensor([140.0, 100.0]) - 10
    size = torch.rand(200, 2, generator=g) * 60
    rois = torch.cat([torch.randint(0, 2, (200, 1), generator=g).float(), corner, corner + size], 1)
    for ratio in (1, 2, 3):
        ours = roi_align_gather(features, rois, 7, 0.25, ratio)
        assert ours.shape == (200, 8, 7, 7)
        torch.testing.assert_close(ours, roi_align(features, rois, 7, 0.25, ratio, aligned=False), atol=1e-5, rtol=1e-5)
    assert roi_align_gather(features, rois[:0], 7, 0.25, 2).shape == (0, 8, 7, 7)


def test_the_models_roi_align_pools_as_torchvisions_and_trains_with_it():
    """The box head's pooler maps each box to torchvision's level and pools what torchvision
    pools (a box with no area included), and with gradients gives torchvision's gradients to
    every level's features (its own backward, the transposed gather)."""
    from torchvision.ops import MultiScaleRoIAlign

    from deskvision.models.roi_align import GatherRoIAlign

    model = create_model(ModelConfig(classes=("folder",)))
    assert isinstance(model.roi_heads.box_roi_pool, GatherRoIAlign)
    g = torch.Generator().manual_seed(1)
    features = {str(i): torch.randn(2, 8, 128 >> i, 192 >> i, generator=g) for i in range(4)}
    corner = torch.rand(2, 150, 2, generator=g) * torch.tensor([400.0, 200.0])
    size = torch.rand(2, 150, 2, generator=g) ** 2 * 600 + 1
    boxes = [torch.cat([c, (c + s).clamp(max=767)], 1) for c, s in zip(corner, size, strict=True)]
    boxes[1][0] = torch.tensor([50.0, 50.0, 50.0, 50.0])
    shapes = [(512, 768), (500, 760)]
    reference = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    with torch.no_grad():
        expected = reference(features, boxes, shapes)
        ours = GatherRoIAlign.like(reference)(features, boxes, shapes)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)  # sums in another order
    levels = reference.map_levels(boxes)
    assert len(set(levels.tolist())) == 4  # every level was used
    upstream = torch.randn(expected.shape, generator=g)
    grads = []
    for pooler in (reference, GatherRoIAlign.like(reference)):
        leaves = {k: f.clone().requires_grad_() for k, f in features.items()}
        (pooler(leaves, boxes, shapes) * upstream).sum().backward()
        grads.append([leaves[k].grad for k in features])
    for ours, theirs in zip(*reversed(grads), strict=True):
        assert theirs.abs().sum() > 0
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
