"""ResNetV1c backbones (MMSeg's ``ResNetV1c``) from timm, dilated to output stride 8 (MMSeg's D8).

V1c = the deep stem (three 3x3 convs 32-32-64, BN-ReLU after each, then max-pool) and otherwise torchvision's
ResNet: stride on the 3x3 conv, 1x1 strided conv in the downsample branch (no average-pool "avg-down", which
is V1d). timm's ``resnet50c`` is exactly that (``resnet18d`` with ``avg_down=False`` gives a V1c-18 for the tiny
variants). ``output_stride=8`` dilates stages 3 and 4 by 2 and 4 with the first block of each at the previous
dilation, as MMSeg's ``contract_dilation=True``: 23.527M parameters for V1c-50, as MMSeg.

Pretrained weights (ImageNet), any of:
  - MMSeg's ``open-mmlab://resnet50_v1c`` file
    (https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth, converted from Gluon's
    ResNet50_v1c), turned into our keys by ``prove weights convert`` (models/v1c_keys.py); the loader also
    accepts the MMSeg file as it is and converts on the fly;
  - timm's ``timm/resnet50c.gluon_in1k`` (the same Gluon weights, timm's keys), found in an existing Hugging
    Face cache when ``model.weights_path`` is not a file.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def build_resnet_v1c(name: str = "resnet50c", output_stride: int = 8, **timm_kwargs: Any) -> nn.Module:
    """A timm features-only ResNet returning stages 1-4 (channels e.g. 256/512/1024/2048 for V1c-50)."""
    import timm

    return timm.create_model(name, pretrained=False, features_only=True, output_stride=output_stride, out_indices=(1, 2, 3, 4), **timm_kwargs)


def check_v1c(backbone: nn.Module) -> None:
    """Refuse a backbone that is not V1c (plain stem or avg-down), so a config typo cannot swap the network."""
    stem = getattr(backbone, "conv1", None)
    if not isinstance(stem, nn.Sequential) or [m.kernel_size for m in stem if isinstance(m, nn.Conv2d)] != [(3, 3)] * 3:
        raise ValueError("ResNetV1c needs the deep stem (three 3x3 convs); use timm's resnet50c / resnet18d")
    down = backbone.layer2[0].downsample
    if down is None or isinstance(down[0], nn.AvgPool2d):
        raise ValueError("ResNetV1c downsamples with a strided 1x1 conv, not avg-down (that is V1d): pass avg_down=false")


def stage_channels(backbone: nn.Module) -> list[int]:
    return list(backbone.feature_info.channels())  # type: ignore[union-attr, operator]


def features(backbone: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    return list(backbone(x))
