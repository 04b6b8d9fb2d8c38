"""MMSeg's decode heads, written from its source: conv blocks, the FCN head (auxiliary head, HRNet head), PSP and
depthwise-separable ASPP heads. Names follow MMSeg (``bottleneck``, ``conv_seg``) so checkpoints map one to one.

Every head takes the backbone's list of feature maps and returns logits at the resolution of the map it reads
(1/8 for the D8 ResNets); SegNet upsamples to the input size. Upsampling inside heads is bilinear with
``align_corners=False`` (MMSeg's configs for these models).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class ConvBNReLU(nn.Sequential):
    """MMSeg's ConvModule: conv (no bias) -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, dilation: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class SeparableConvBNReLU(nn.Sequential):
    """MMSeg's DepthwiseSeparableConvModule: depthwise k x k conv-BN-ReLU, then pointwise 1x1 conv-BN-ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, dilation: int = 1) -> None:
        super().__init__(ConvBNReLU(cin, cin, kernel_size, dilation, groups=cin), ConvBNReLU(cin, cout, 1))


class Classifier(nn.Sequential):
    """MMSeg's ``cls_seg``: Dropout2d then a 1x1 conv with bias (``conv_seg``)."""

    def __init__(self, channels: int, num_classes: int, dropout: float = 0.1) -> None:
        super().__init__(nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(), nn.Conv2d(channels, num_classes, 1))


class FCNHead(nn.Sequential):
    """``num_convs`` conv-BN-ReLU blocks, dropout, 1x1 classifier (MMSeg FCNHead with concat_input=False).

    Used on one feature map: callers pass the tensor, not the list.
    """

    def __init__(self, in_channels: int, channels: int, num_classes: int, num_convs: int = 1, kernel_size: int = 3, dropout: float = 0.1) -> None:
        layers: list[nn.Module] = []
        cin = in_channels
        for _ in range(num_convs):
            layers.append(ConvBNReLU(cin, channels, kernel_size))
            cin = channels
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        layers.append(nn.Conv2d(cin, num_classes, 1))
        super().__init__(*layers)
