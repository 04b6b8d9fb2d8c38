"""MMSeg's PSPHead: pyramid pooling (adaptive average pools 1/2/3/6, each 1x1 conv-BN-ReLU, upsampled), concatenated
with the input, a 3x3 conv-BN-ReLU bottleneck, dropout and the classifier. 512 channels on ResNet-50's 2048: 23.08M."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from prove_lightning.models.heads import Classifier, ConvBNReLU, _resize


class PSPHead(nn.Module):
    def __init__(self, in_channels: int, channels: int, num_classes: int, pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1, in_index: int = -1) -> None:
        super().__init__()
        self.in_index = in_index
        self.psp_modules = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(s), ConvBNReLU(in_channels, channels, 1)) for s in pool_scales)
        self.bottleneck = ConvBNReLU(in_channels + len(pool_scales) * channels, channels, 3)
        self.cls_seg = Classifier(channels, num_classes, dropout)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[self.in_index]
        outs = [x] + [_resize(m(x), x.shape[-2:]) for m in self.psp_modules]
        return self.cls_seg(self.bottleneck(torch.cat(outs, dim=1)))
