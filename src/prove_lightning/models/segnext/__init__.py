"""SegNeXt (MSCAN encoder + LightHamHead), written in this project because no installed package provides it."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from prove_lightning.models.net import SegNet
from prove_lightning.models.segnext.ham_head import LightHamHead
from prove_lightning.models.segnext.mscan import MSCAN
from prove_lightning.models.weights import load_pretrained

__all__ = ["SegNeXt", "build_segnext", "MSCAN", "LightHamHead"]


class SegNeXt(nn.Module):
    def __init__(self, encoder: MSCAN, decode_head: LightHamHead, in_index: Sequence[int] = (1, 2, 3)) -> None:
        super().__init__()
        self.encoder = encoder
        self.decode_head = decode_head
        self.in_index = list(in_index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        return self.decode_head([feats[i] for i in self.in_index])


def build_segnext(
    num_classes: int,
    embed_dims: Sequence[int] = (64, 128, 320, 512),
    depths: Sequence[int] = (3, 3, 12, 3),
    mlp_ratios: Sequence[float] = (8, 8, 4, 4),
    drop_path_rate: float = 0.1,
    head: Mapping[str, Any] | None = None,
    in_index: Sequence[int] = (1, 2, 3),
    pretrained: bool = False,
    weights_path: str | None = None,
    hub: Mapping[str, Any] | None = None,
    name: str = "segnext",
) -> SegNet:
    """SegNeXt with an MSCAN encoder; ``pretrained`` loads MSCAN ImageNet weights (a local state dict) into the encoder."""
    encoder = MSCAN(embed_dims, depths, mlp_ratios, drop_path_rate)
    head_cfg = dict(head or {})
    decode_head = LightHamHead([embed_dims[i] for i in in_index], num_classes, **head_cfg)
    if pretrained:
        load_pretrained(encoder, weights_path, name, hub=hub)
    return SegNet(SegNeXt(encoder, decode_head, in_index), num_classes=num_classes, stride=32)
