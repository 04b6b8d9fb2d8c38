"""SegNet: the one interface the LightningModule sees, whatever library built the network."""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


class SegNet(nn.Module):
    """Pads the input to the network's stride, returns logits at the input size.

    ``forward`` returns a dict: ``out`` (N, C, H, W) and, in training, ``aux`` logits where the recipe
    has an auxiliary head. ``backbone_prefixes`` names the parameters that get the backbone learning rate.
    """

    def __init__(self, model: nn.Module, num_classes: int, stride: int = 32, backbone_prefixes: tuple[str, ...] = ("encoder.",), aux_head: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.num_classes = num_classes
        self.stride = stride
        self.backbone_prefixes = tuple(f"model.{p}" for p in backbone_prefixes)
        self.aux_head = aux_head

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        out = self.model(x)
        logits = out if isinstance(out, torch.Tensor) else out["out"]
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        result = {"out": logits[..., :h, :w]}
        if isinstance(out, dict) and "aux" in out and self.training:
            aux = F.interpolate(out["aux"], size=x.shape[-2:], mode="bilinear", align_corners=False)
            result["aux"] = aux[..., :h, :w]
        return result

    def backbone_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters() if n.startswith(self.backbone_prefixes))
