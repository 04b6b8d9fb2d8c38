"""HRNet (timm) with MMSeg's FCN head on the four resolution branches, upsampled and concatenated."""

from __future__ import annotations

from typing import Any, Mapping

import timm
import torch
import torch.nn.functional as F
from torch import nn

from prove_lightning.models.heads import FCNHead
from prove_lightning.models.net import SegNet
from prove_lightning.models.weights import load_pretrained


class HRNetFCN(nn.Module):
    """timm HRNet branches (strides 4/8/16/32, e.g. 48/96/192/384 channels for W48) -> resize+concat -> FCN head.

    The head is MMSeg's fcn_hr48: one 1x1 conv-BN-ReLU with as many channels as the concatenation, no dropout.
    """

    def __init__(self, variant: str, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        # feature_location='' gives the raw branch outputs (not timm's classification 'incre' blocks)
        self.encoder = timm.create_model(variant, pretrained=False, features_only=True, feature_location="", out_indices=(1, 2, 3, 4))
        channels = sum(self.encoder.feature_info.channels())
        self.decode_head = FCNHead(channels, channels, num_classes, num_convs=1, kernel_size=1, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        size = feats[0].shape[-2:]
        cat = torch.cat([feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in feats[1:]], dim=1)
        return self.decode_head(cat)


def build_hrnet(
    variant: str,
    num_classes: int,
    pretrained: bool = False,
    weights_path: str | None = None,
    name: str = "",
    hub: Mapping[str, Any] | str | None = "auto",
    dropout: float = 0.0,
) -> SegNet:
    """HRNet-FCN; ``pretrained`` loads ImageNet weights into the timm backbone from a file or the timm HF cache."""
    model = HRNetFCN(variant, num_classes, dropout=dropout)
    if pretrained:
        if hub == "auto":
            cfg = timm.models.get_pretrained_cfg(variant)
            hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
            hub = {"repo_id": hub_id.split("@")[0], "filename": "model.safetensors"} if hub_id else None
        load_pretrained(model.encoder, weights_path, name or variant, hub=hub)  # type: ignore[arg-type]
    return SegNet(model, num_classes=num_classes, stride=32)
