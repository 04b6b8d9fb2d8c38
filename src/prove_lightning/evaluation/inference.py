"""Inference at native resolution: whole image or sliding window; logits resized to the label's size, never squashed."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = net(x)
    return out["out"] if isinstance(out, dict) else out


def slide_logits(net: nn.Module, x: torch.Tensor, crop: tuple[int, int], stride: tuple[int, int], num_classes: int) -> torch.Tensor:
    """Average logits of overlapping crop windows (MMSeg's slide inference)."""
    n, _, h, w = x.shape
    ch, cw = crop
    sh, sw = stride
    rows = max(h - ch + sh - 1, 0) // sh + 1
    cols = max(w - cw + sw - 1, 0) // sw + 1
    logits = x.new_zeros((n, num_classes, h, w))
    count = x.new_zeros((n, 1, h, w))
    for r in range(rows):
        for c in range(cols):
            y1, x1 = r * sh, c * sw
            y2, x2 = min(y1 + ch, h), min(x1 + cw, w)
            y1, x1 = max(y2 - ch, 0), max(x2 - cw, 0)
            logits[:, :, y1:y2, x1:x2] += _forward(net, x[:, :, y1:y2, x1:x2])
            count[:, :, y1:y2, x1:x2] += 1
    return logits / count


def predict_logits(
    net: nn.Module,
    x: torch.Tensor,
    out_size: tuple[int, int],
    mode: str = "whole",
    crop: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    num_classes: int | None = None,
) -> torch.Tensor:
    if mode == "whole":
        logits = _forward(net, x)
    elif mode == "slide":
        if not crop or not stride or not num_classes:
            raise ValueError("slide inference needs crop, stride and num_classes")
        logits = slide_logits(net, x, tuple(crop), tuple(stride), num_classes)
    else:
        raise ValueError(f"unknown inference mode '{mode}'; use 'whole' or 'slide'")
    if tuple(logits.shape[-2:]) != tuple(out_size):
        logits = F.interpolate(logits, size=tuple(out_size), mode="bilinear", align_corners=False)
    return logits
