"""MMSeg's DepthwiseSeparableASPPHead (DeepLabV3+): image pooling + 1x1 branch + depthwise-separable 3x3 branches at
the atrous rates, a 3x3 bottleneck over their concatenation, then the decoder: the low-level feature (stage 1)
squeezed to 48 channels, concatenated with the upsampled ASPP output, two separable 3x3 convs, the classifier.
512 channels, rates 12/24/36 on ResNet-50: 17.70M."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from prove_lightning.models.heads import Classifier, ConvBNReLU, SeparableConvBNReLU, _resize


class SeparableASPPHead(nn.Module):
    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_classes: int,
        c1_in_channels: int,
        c1_channels: int = 48,
        dilations: Sequence[int] = (1, 12, 24, 36),
        dropout: float = 0.1,
        in_index: int = -1,
        c1_index: int = 0,
    ) -> None:
        super().__init__()
        self.in_index, self.c1_index = in_index, c1_index
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvBNReLU(in_channels, channels, 1))
        self.aspp_modules = nn.ModuleList(
            ConvBNReLU(in_channels, channels, 1) if d == 1 else SeparableConvBNReLU(in_channels, channels, 3, dilation=d) for d in dilations
        )
        self.bottleneck = ConvBNReLU((len(dilations) + 1) * channels, channels, 3)
        self.c1_bottleneck = ConvBNReLU(c1_in_channels, c1_channels, 1)
        self.sep_bottleneck = nn.Sequential(SeparableConvBNReLU(channels + c1_channels, channels, 3), SeparableConvBNReLU(channels, channels, 3))
        self.cls_seg = Classifier(channels, num_classes, dropout)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[self.in_index]
        outs = [_resize(self.image_pool(x), x.shape[-2:])] + [m(x) for m in self.aspp_modules]
        out = self.bottleneck(torch.cat(outs, dim=1))
        c1 = self.c1_bottleneck(features[self.c1_index])
        out = self.sep_bottleneck(torch.cat([_resize(out, c1.shape[-2:]), c1], dim=1))
        return self.cls_seg(out)
