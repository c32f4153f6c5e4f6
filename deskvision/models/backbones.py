"""Backbones with a feature pyramid, sized for GUI elements (12-px buttons to full-screen windows)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN, _mobilenet_extractor, _resnet_fpn_extractor
from torchvision.ops import misc


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _dw_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Depthwise-separable conv: cheap on CPU, enough for flat, crisp GUI pixels."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def separable_conv3x3(channels: int, relu: bool = False) -> nn.Sequential:
    """A cheaper stand-in for a dense 3x3 conv of `channels` to `channels`: depthwise 3x3, ReLU,
    pointwise 1x1 (and a ReLU after it with `relu`), 8x fewer multiply-adds at 64 channels."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, 1, 1, groups=channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, 1),
        *([nn.ReLU(inplace=True)] if relu else []),
    )


class DilatedResidual(nn.Module):
    """x + a dilated depthwise-separable conv of x: a wider view at the same stride and cost.

    Its last batch norm starts at zero, so the block starts as the identity: added to a trained
    network, it changes nothing until it is trained."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, dilation, dilation=dilation, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )
        nn.init.zeros_(self.branch[-1].weight)

    def forward(self, x):
        return x + self.branch(x)


class TinyScreenNet(nn.Sequential):
    """A small CNN with outputs at strides 4, 8, 16 and 32 (named c2..c5).

    `context`: dilated residual blocks (dilations 2, 4) after stages c4 and c5. Without them the
    deepest features see about 220 px of the screen (theoretical receptive field), too little
    to find both ends of a 450-px location bar or the edges of a 700-px window; with them, about
    800 px, for a few percent more compute (those stages run at 1/256 and 1/1024 of the pixels).
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 96, 128), context: bool = False):
        w0, w2, w3, w4, w5 = widths
        more4 = [DilatedResidual(w4, 2), DilatedResidual(w4, 4)] if context else []
        more5 = [DilatedResidual(w5, 2), DilatedResidual(w5, 4)] if context else []
        super().__init__(
            OrderedDict(
                stem=nn.Sequential(_conv(3, w0, 2), _dw_block(w0, w0, 1)),  # stride 2
                c2=nn.Sequential(_dw_block(w0, w2, 2), _dw_block(w2, w2, 1)),  # stride 4
                c3=nn.Sequential(_dw_block(w2, w3, 2), _dw_block(w3, w3, 1)),  # stride 8
                c4=nn.Sequential(_dw_block(w3, w4, 2), _dw_block(w4, w4, 1), _dw_block(w4, w4, 1), *more4),  # stride 16
                c5=nn.Sequential(_dw_block(w4, w5, 2), _dw_block(w5, w5, 1), *more5),  # stride 32
            )
        )
        self.widths = widths


def tiny_fpn(out_channels: int = 64, widths: tuple[int, ...] = (16, 32, 64, 96, 128), context: bool = False) -> BackboneWithFPN:
    body = TinyScreenNet(widths, context)
    return BackboneWithFPN(body, {"c2": "0", "c3": "1", "c4": "2", "c5": "3"}, list(widths[1:]), out_channels)


def resnet50_fpn(weights_backbone=None, trainable_layers: int = 3, frozen_bn: bool = False) -> BackboneWithFPN:
    """`frozen_bn`: batch-norm statistics fixed, as for fine-tuning pretrained weights."""
    from torchvision.models import resnet50

    norm = misc.FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
    body = resnet50(weights=weights_backbone, norm_layer=norm)
    return _resnet_fpn_extractor(body, trainable_layers)


def mobilenet_v3_fpn(weights_backbone=None, trainable_layers: int = 3, frozen_bn: bool = False) -> nn.Module:
    """MobileNetV3-Large with pyramid levels at strides 4-32; torchvision's own detector uses
    only stride 32, too coarse for 14-px title-bar buttons."""
    from torchvision.models import mobilenet_v3_large

    norm = misc.FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
    body = mobilenet_v3_large(weights=weights_backbone, norm_layer=norm, dilated=False)
    return _mobilenet_extractor(body, True, trainable_layers, returned_layers=[1, 2, 3, 4])
