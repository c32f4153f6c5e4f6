"""Create Faster R-CNN models by name (as timm does), configured for desktop screenshots.

Choices for GUI elements (see README, "Model choices"):
- images are never upscaled and are downscaled only when their long side exceeds `max_size`
  (1920): a 14-px close button on a 1920x1080 screenshot stays 14 px;
- the feature pyramid starts at stride 4, with 12- and 20-px anchors there, up to 1024-px
  anchors at stride 64 for full-screen windows; aspect ratios down to 1:16 for text fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import AnchorGenerator
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes
from torchvision.ops import MultiScaleRoIAlign

from deskvision.classes import CLASSES, TITLEBAR_CLASSES
from deskvision.errors import ModelError
from deskvision.models import backbones
from deskvision.models.label_head import LabelHead
from deskvision.models.roi_align import GatherRoIAlign
from deskvision.models.rpn import SelectiveRPN

log = logging.getLogger("deskvision")

GUI_ANCHOR_SIZES: tuple[tuple[int, ...], ...] = ((12, 20), (32, 48), (64, 96), (128, 256), (512, 1024))
# Height / width. Text fields are 1/4 to 1/20 as high as wide (location bars): without 1/8 and
# 1/16 only 65 % of real text fields had an anchor at IoU >= 0.5, with them 95 %. No 2:1 anchor:
# nothing on a desktop is that tall (icons with their label are at most ~1.4:1).
GUI_ASPECT_RATIOS: tuple[float, ...] = (0.0625, 0.125, 0.25, 0.5, 1.0)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model before loading its weights (stored in the model file)."""

    arch: str = "fasterrcnn_tiny_fpn"
    classes: tuple[str, ...] = CLASSES
    max_size: int = 1920
    anchor_sizes: tuple[tuple[int, ...], ...] = GUI_ANCHOR_SIZES
    aspect_ratios: tuple[float, ...] = GUI_ASPECT_RATIOS
    trainable_backbone_layers: int = 5
    # Pretrained-style backbone: frozen batch norm and only `trainable_backbone_layers` stages
    # trained. Set when starting from torchvision weights, and kept so that such a model
    # reloads and resumes with the same structure.
    frozen_bn: bool = False
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_test: int = 500
    box_detections_per_img: int = 300
    # Title-bar buttons are boxed as squares of side max(w, h, 16 x screen scale) (ANNOTATION.md),
    # so most are exactly 16 or 32 px: a predicted close/minimize/maximize box whose larger side
    # is within a factor sqrt(2) of one of these sides becomes a square of that side on its
    # centre (`snap_square_sides`). Empty: boxes as regressed.
    titlebar_sides: tuple[float, ...] = ()
    # A `LabelHead` that weighs file/launcher scores by the label under each icon (its weights
    # are in the model file: `deskvision train-label-head`).
    label_head: bool = False
    label_head_size: str = "base"  # a name in `label_head.SIZES`
    # Which dense 3x3 convs at the finest strides are depthwise-separable
    # (`backbones.separable_conv3x3`): "fpn", the pyramid's output convs at strides 4 and 8; "rpn",
    # the RPN head's conv (together half the convolution time at 1080p). Trained by distilling a
    # model without them (`deskvision distill-separable`).
    separable: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.separable = separable_parts(self.separable)

    @property
    def num_classes(self) -> int:
        return len(self.classes) + 1  # + background

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["classes"] = tuple(known.get("classes", CLASSES))
        if "anchor_sizes" in known:
            known["anchor_sizes"] = tuple(tuple(int(s) for s in level) for level in known["anchor_sizes"])
        if "aspect_ratios" in known:
            known["aspect_ratios"] = tuple(float(r) for r in known["aspect_ratios"])
        if "titlebar_sides" in known:
            known["titlebar_sides"] = tuple(float(s) for s in known["titlebar_sides"])
            if any(not s > 0 for s in known["titlebar_sides"]):
                raise ValueError(f"titlebar_sides must be positive, not {known['titlebar_sides']}")
        return cls(**known)


#: The parts `ModelConfig.separable` can make separable.
SEPARABLE_PARTS = ("fpn", "rpn")


def separable_parts(value: bool | str | Sequence[str]) -> tuple[str, ...]:
    """`ModelConfig.separable` from a list of parts or a comma list ("fpn,rpn"); ``True`` (model
    files of 2026-12-07) means both. ValueError for an unknown part."""
    if isinstance(value, bool):
        return SEPARABLE_PARTS if value else ()
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [p for p in parts if p not in SEPARABLE_PARTS]
    if unknown:
        raise ValueError(f"unknown separable part {unknown[0]!r}: choose from {', '.join(SEPARABLE_PARTS)}")
    return tuple(p for p in SEPARABLE_PARTS if p in parts)


def snap_square_sides(boxes: torch.Tensor, snap: torch.Tensor, sides: tuple[float, ...], ratio: float = 2**0.5) -> torch.Tensor:
    """Boxes (xyxy) where `snap` is true whose larger side lies within a factor `ratio` of one of
    `sides` become squares of that side on their own centre; the others are unchanged.

    Stage 22 regresses 16-px squares as 13 to 21 px and 32-px ones as 23 to 29 or 40 to 53 px
    (real training screenshots); snapping to the sides the labelling rule draws raised its
    title-bar buttons' AP@[.5:.95] from 0.43-0.45 to 0.60-0.66 there (BENCHMARKS.md)."""
    if not sides or not bool(snap.any()):
        return boxes
    b = boxes[snap]
    side = torch.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    new = side.clone()
    for unit in sides:
        new = torch.where((side >= unit / ratio) & (side < unit * ratio), torch.full_like(side, unit), new)
    centre = (b[:, :2] + b[:, 2:]) / 2
    half = (new / 2)[:, None]
    out = boxes.clone()
    out[snap] = torch.cat([(centre - half).clamp(min=0), centre + half], dim=1)
    return out


_NORMALISE_ROWS = 96  # a band of one channel: 0.6 MB of floats at 1600 px wide


class ScreenTransform(GeneralizedRCNNTransform):
    """Normalise and batch; resize only to bring the long side down to `max_size`.

    GUI elements have fixed pixel sizes, so torchvision's "scale the short side to 800" would
    shrink 14-px buttons on large screens and blow up small screenshots for nothing.
    """

    def __init__(self, max_size: int, titlebar_labels: tuple[int, ...] = (), titlebar_sides: tuple[float, ...] = ()):
        super().__init__(min_size=max_size, max_size=max_size, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
        self.titlebar_labels = titlebar_labels
        self.titlebar_sides = titlebar_sides

    def forward(self, images: list[torch.Tensor], targets: list[dict] | None = None) -> tuple[ImageList, list[dict] | None]:
        """Float images in [0, 1] (training, evaluation of augmented data) go through
        torchvision's path: normalise, resize, pad. uint8 images (what `Detector` feeds) are
        resized in uint8 first and normalised straight into the padded batch: the same image up
        to the rounding of resized pixels to integers, in a third of the time on a CPU."""
        if targets is not None or not images or any(img.dtype != torch.uint8 for img in images):
            return super().forward(images, targets)
        if images[0].device.type != "cpu":  # torch's uint8 antialiased resize is a CPU kernel
            return super().forward([img.float().div_(255) for img in images], targets)
        for img in images:
            if img.dim() != 3:
                raise ValueError(f"images are expected as 3d tensors [C, H, W], got {tuple(img.shape)}")
        resized = [self.resize(img)[0] for img in images]  # torch's interpolate keeps uint8
        sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in resized]
        step = self.size_divisible
        height = -(-max(h for h, _ in sizes) // step) * step
        width = -(-max(w for _, w in sizes) // step) * step
        batch = torch.empty(len(resized), 3, height, width)
        mean, std = torch.as_tensor(self.image_mean), torch.as_tensor(self.image_std)
        for out, img in zip(batch, resized, strict=True):
            h, w = img.shape[-2:]
            out[:, h:].zero_()
            out[:, :h, w:].zero_()
            for c in range(3):
                # the float path's operations in its order: x / 255, then (x - mean) / std; in
                # bands of rows that stay in the CPU's cache (2.5x faster at 1080p, same numbers)
                for top in range(0, h, _NORMALISE_ROWS):
                    rows = slice(top, min(top + _NORMALISE_ROWS, h))
                    out[c, rows, :w].copy_(img[c, rows]).div_(255).sub_(mean[c]).div_(std[c])
        return ImageList(batch, sizes), None

    def postprocess(self, result: list[dict], image_shapes: list, original_image_sizes: list) -> list[dict]:
        """Boxes back in screenshot pixels, title-bar buttons snapped to `titlebar_sides` there."""
        result = super().postprocess(result, image_shapes, original_image_sizes)
        if not self.training and self.titlebar_sides and self.titlebar_labels:
            for r in result:
                snap = torch.isin(r["labels"], torch.as_tensor(self.titlebar_labels, device=r["labels"].device))
                r["boxes"] = snap_square_sides(r["boxes"], snap, self.titlebar_sides)
        return result

    def resize(self, image: torch.Tensor, target: dict | None = None) -> tuple[torch.Tensor, dict | None]:
        h, w = image.shape[-2:]
        scale = min(1.0, self.max_size / max(h, w))
        if scale >= 1.0:
            return image, target
        image = nn.functional.interpolate(
            image[None], scale_factor=scale, mode="bilinear", recompute_scale_factor=True, align_corners=False, antialias=True
        )[0]
        if target is not None:
            target["boxes"] = resize_boxes(target["boxes"], (h, w), image.shape[-2:])
        return image, target


def _tiny(cfg: ModelConfig, weights: str | None, context: bool = False) -> FasterRCNN:
    if weights == "torchvision":
        raise ModelError(f"{cfg.arch} has no torchvision weights: use --init none or --init MODEL_FILE")
    backbone = backbones.tiny_fpn(out_channels=64, context=context)
    roi_pool = MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=7, sampling_ratio=2)
    box_head = TwoMLPHead(backbone.out_channels * 7 * 7, 256)
    return _faster_rcnn(
        cfg, backbone, box_roi_pool=roi_pool, box_head=box_head, box_predictor=FastRCNNPredictor(256, cfg.num_classes)
    )


def _resnet50(cfg: ModelConfig, weights: str | None) -> FasterRCNN:
    coco = None
    wb = None
    if weights == "torchvision":
        from torchvision.models import ResNet50_Weights
        from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

        coco, wb = FasterRCNN_ResNet50_FPN_Weights.COCO_V1, ResNet50_Weights.IMAGENET1K_V1
    model = _faster_rcnn(cfg, backbones.resnet50_fpn(wb, _layers(cfg), cfg.frozen_bn))
    if coco is not None:  # the seed's transfer learning: COCO detector, head rebuilt for our classes
        load_matching(model, _download(coco), "COCO Faster R-CNN")
    return model


def _mobilenet(cfg: ModelConfig, weights: str | None) -> FasterRCNN:
    wb = None
    if weights == "torchvision":
        from torchvision.models import MobileNet_V3_Large_Weights

        wb = MobileNet_V3_Large_Weights.IMAGENET1K_V1
    return _faster_rcnn(cfg, backbones.mobilenet_v3_fpn(wb, _layers(cfg, maximum=6), cfg.frozen_bn))


def _layers(cfg: ModelConfig, maximum: int = 5) -> int:
    # A backbone trained from scratch trains every stage.
    return min(cfg.trainable_backbone_layers, maximum) if cfg.frozen_bn else maximum


def _download(weights) -> dict:
    return weights.get_state_dict(progress=True, check_hash=True)


class ScreenRCNN(FasterRCNN):
    """torchvision's Faster R-CNN, plus (at inference, when the model has one) the `LabelHead`
    that weighs each icon's file/launcher scores by the label under it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_head: LabelHead | None = None

    def forward(self, images: list[torch.Tensor], targets: list[dict] | None = None):
        out = super().forward(images, targets)
        if self.training or self.label_head is None:
            return out
        heads = self.roi_heads
        return [
            self.label_head.relabel(image, found, heads.score_thresh, heads.detections_per_img)
            for image, found in zip(images, out, strict=True)
        ]


def _faster_rcnn(cfg: ModelConfig, backbone: nn.Module, **kwargs) -> FasterRCNN:
    anchors = AnchorGenerator(cfg.anchor_sizes, (cfg.aspect_ratios,) * len(cfg.anchor_sizes))
    model = ScreenRCNN(
        backbone,
        num_classes=None if "box_predictor" in kwargs else cfg.num_classes,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_test=cfg.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_test=cfg.rpn_post_nms_top_n_test,
        box_detections_per_img=cfg.box_detections_per_img,
        **kwargs,
    )
    titlebar = tuple(cfg.classes.index(c) + 1 for c in TITLEBAR_CLASSES if c in cfg.classes)  # 0: background
    model.transform = ScreenTransform(cfg.max_size, titlebar, cfg.titlebar_sides)
    model.rpn = SelectiveRPN.like(model.rpn)  # torchvision's proposals, computed faster at inference
    model.roi_heads.box_roi_pool = GatherRoIAlign.like(model.roi_heads.box_roi_pool)  # same, for RoIAlign
    if cfg.separable:
        make_separable(model, cfg.separable)
    if cfg.label_head:
        try:
            model.label_head = LabelHead.for_classes(cfg.classes, cfg.label_head_size)
        except ValueError as exc:
            raise ModelError(str(exc)) from None
    return model


#: The FPN output convs `separable` replaces: strides 4 and 8.
SEPARABLE_LEVELS = (0, 1)


def separable_prefixes(parts: Sequence[str]) -> tuple[str, ...]:
    """The parameter-name prefixes of the convs `make_separable` swaps for `parts`."""
    prefixes = {"fpn": tuple(f"backbone.fpn.layer_blocks.{level}." for level in SEPARABLE_LEVELS), "rpn": ("rpn.head.conv.",)}
    return tuple(prefix for part in separable_parts(parts) for prefix in prefixes[part])


def make_separable(model: FasterRCNN, parts: Sequence[str] = SEPARABLE_PARTS) -> None:
    """Swap the dense 3x3 convs of `parts` (see `ModelConfig.separable`) for fresh
    depthwise-separable ones (in place)."""
    fpn = getattr(model.backbone, "fpn", None)
    if fpn is None or not hasattr(model.rpn.head, "conv"):
        raise ModelError("separable convs need a backbone with a feature pyramid and torchvision's RPN head")
    channels = model.backbone.out_channels
    if "fpn" in parts:
        for level in SEPARABLE_LEVELS:
            fpn.layer_blocks[level] = backbones.separable_conv3x3(channels)
    if "rpn" in parts:
        model.rpn.head.conv = backbones.separable_conv3x3(channels, relu=True)


ARCHITECTURES: dict[str, Callable[[ModelConfig, str | None], FasterRCNN]] = {
    "fasterrcnn_tiny_fpn": _tiny,
    # the same with dilated residual blocks at strides 16 and 32 (a ~800-px receptive field);
    # `--init` from a fasterrcnn_tiny_fpn file starts it as that model (the blocks start as identities)
    "fasterrcnn_tiny_context_fpn": lambda cfg, weights: _tiny(cfg, weights, context=True),
    "fasterrcnn_mobilenet_v3_large_fpn": _mobilenet,
    "fasterrcnn_resnet50_fpn": _resnet50,
}

#: Architectures that add layers to another one: `--init` from a model of the other one loads
#: every shared layer (the added ones start as identities).
EXTENDS: dict[str, str] = {"fasterrcnn_tiny_context_fpn": "fasterrcnn_tiny_fpn"}


def replace_predictor(model: FasterRCNN, num_classes: int) -> None:
    """Replace the box predictor for `num_classes` (background included), as in the seed article."""
    in_features = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(in_features, num_classes)


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Copy every tensor whose name and shape match; return the names left at their initial value."""
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    skipped = sorted(set(own) - set(matched))
    if not matched:
        raise ModelError(f"{source}: no weight matches this architecture")
    if skipped:
        log.info(f"{source}: {len(matched)} tensors loaded, {len(skipped)} left new (e.g. {skipped[0]})")
    return skipped


def create_model(config: ModelConfig | None = None, weights: str | None = None, **overrides) -> FasterRCNN:
    """Build a Faster R-CNN by architecture name.

    `weights`: ``None`` (random init, works offline) or ``"torchvision"`` (COCO/ImageNet
    weights downloaded by torchvision, needs internet). To start from a deskvision model file,
    use `deskvision.models.io.init_from`.
    """
    config = config or ModelConfig(**overrides)
    if config.arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {config.arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
    if weights not in (None, "none", "torchvision"):
        raise ModelError(f"unknown weights {weights!r}: use none or torchvision")
    if weights == "torchvision":
        config = replace(config, frozen_bn=True)
    if weights != "torchvision":
        model = ARCHITECTURES[config.arch](config, None)
    else:
        try:
            model = ARCHITECTURES[config.arch](config, weights)
        except ModelError:
            raise
        except Exception as exc:  # URLError, HTTPError, OSError, hash mismatch...
            raise ModelError(
                f"cannot download torchvision weights for {config.arch} ({exc.__class__.__name__}: {exc}); "
                "offline, use --init none or --init MODEL_FILE"
            ) from None
    model._deskvision_arch = config.arch
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
