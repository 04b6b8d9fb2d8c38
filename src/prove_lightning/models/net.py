"""SegNet: the one interface the LightningModule sees, whatever library built the network."""

from __future__ import annotations

from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn


class SegNet(nn.Module):
    """Pads the input to the network's stride, returns logits at the input size.

    ``forward`` returns a dict:
      - ``out``: (N, C, H, W) per-class scores at the input size (what inference takes the argmax of and what
        the per-pixel losses see);
      - ``aux`` (training only): logits of an auxiliary head, where the recipe has one;
      - ``model_losses`` (training only): for networks that bring their own criterion (Mask2Former's set
        prediction loss), a callable ``label -> {name: weighted loss}`` bound to this forward pass; the loss
        object adds its terms (losses.CompositeLoss), so SegModule never needs to know which network it trains.
    ``backbone_prefixes`` names the parameters that get the backbone learning rate.
    """

    def __init__(self, model: nn.Module, num_classes: int, stride: int = 32, backbone_prefixes: tuple[str, ...] = ("encoder.",)) -> None:
        super().__init__()
        self.model = model
        self.num_classes = num_classes
        self.stride = stride
        self.backbone_prefixes = tuple(f"model.{p}" for p in backbone_prefixes)

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        out = self.model(x)
        logits = out if isinstance(out, torch.Tensor) else out["out"]
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        result: dict[str, Any] = {"out": logits[..., :h, :w]}
        if isinstance(out, dict) and self.training:
            if "aux" in out:
                aux = F.interpolate(out["aux"], size=x.shape[-2:], mode="bilinear", align_corners=False)
                result["aux"] = aux[..., :h, :w]
            if "model_losses" in out:
                result["model_losses"] = out["model_losses"]
        return result

    def backbone_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters() if n.startswith(self.backbone_prefixes))
