"""MMSeg's EncoderDecoder for the ResNetV1c-D8 recipes: backbone -> decode head (+ FCN aux head on stage 3 in training).

``deeplabv3plus_r50`` = V1c-50 D8 + depthwise-separable ASPP (models/aspp_head.py) + aux: 43.590M with 19 classes;
``pspnet_r50`` = V1c-50 D8 + PSP head (models/psp_head.py) + aux: 48.975M; the same figures as MMSeg 1.2.2.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from prove_lightning.errors import ConfigError
from prove_lightning.models.aspp_head import SeparableASPPHead
from prove_lightning.models.heads import FCNHead
from prove_lightning.models.net import SegNet
from prove_lightning.models.psp_head import PSPHead
from prove_lightning.models.resnet_v1c import build_resnet_v1c, check_v1c, stage_channels


class EncoderDecoder(nn.Module):
    def __init__(self, backbone: nn.Module, decode_head: nn.Module, aux_head: nn.Module | None, aux_index: int = 2) -> None:
        super().__init__()
        self.backbone = backbone
        self.decode_head = decode_head
        self.aux_head = aux_head
        self.aux_index = aux_index

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        feats = list(self.backbone(x))
        out = self.decode_head(feats)
        if self.training and self.aux_head is not None:
            return {"out": out, "aux": self.aux_head(feats[self.aux_index])}
        return out


def _decode_head(head: Mapping[str, Any], chans: list[int], num_classes: int) -> nn.Module:
    kind = head.get("type")
    dropout = float(head.get("dropout", 0.1))
    channels = int(head.get("channels", 512))
    if kind == "psp":
        return PSPHead(chans[-1], channels, num_classes, tuple(head.get("pool_scales", (1, 2, 3, 6))), dropout)
    if kind == "aspp_separable":
        return SeparableASPPHead(
            chans[-1], channels, num_classes, c1_in_channels=chans[0], c1_channels=int(head.get("c1_channels", 48)),
            dilations=tuple(head.get("dilations", (1, 12, 24, 36))), dropout=dropout,
        )
    raise ConfigError(f"model.net.head.type='{kind}' is not a decode head; use psp or aspp_separable")


def build_resnet_seg(
    num_classes: int,
    head: Mapping[str, Any],
    backbone: Mapping[str, Any] | None = None,
    aux_head: Mapping[str, Any] | None = None,
    pretrained: bool = False,
    weights_path: str | None = None,
    name: str = "",
    hub: Mapping[str, Any] | None = None,
) -> SegNet:
    """Build the network from ``conf/model``'s ``net`` block; load ImageNet backbone weights when ``pretrained``.

    ``backbone``: {name: timm model (resnet50c), output_stride: 8, any timm kwarg (avg_down: false)};
    ``aux_head``: {stage: 0-based stage index (2 = layer3), channels, dropout} or null.
    """
    bcfg = dict(backbone or {})
    bb = build_resnet_v1c(str(bcfg.pop("name", "resnet50c")), int(bcfg.pop("output_stride", 8)), **bcfg)
    check_v1c(bb)
    chans = stage_channels(bb)
    aux = None
    stage = 2
    if aux_head:
        stage = int(aux_head.get("stage", 2))
        aux = FCNHead(chans[stage], int(aux_head.get("channels", 256)), num_classes, dropout=float(aux_head.get("dropout", 0.1)))
    model = EncoderDecoder(bb, _decode_head(head, chans, num_classes), aux, stage)
    if pretrained:
        from prove_lightning.models.weights import load_pretrained

        load_pretrained(model.backbone, weights_path, name or "resnet_v1c", hub=dict(hub) if hub else None)
    return SegNet(model, num_classes=num_classes, stride=8, backbone_prefixes=("backbone.",))
