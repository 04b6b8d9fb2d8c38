"""Inference at native resolution: whole image or sliding window; logits resized to the label's size, never squashed.

Settings come from the model config (``model.inference``: mode whole|slide, crop [h, w], stride [h, w]),
as MMSeg's ``test_cfg``: slide averages the logits of overlapping crop windows (windows at the right and
bottom edges are shifted inside the image, an image smaller than the crop is one window).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from prove_lightning.errors import ConfigError

MODES = ("whole", "slide")


def check_inference(inference: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``model.inference`` up front (not at the first validation hours into a run)."""
    cfg = dict(inference or {"mode": "whole"})
    mode = cfg.get("mode", "whole")
    if mode not in MODES:
        raise ConfigError(f"model.inference.mode='{mode}' is not one of {MODES}")
    if mode == "slide":
        for key in ("crop", "stride"):
            v = cfg.get(key)
            if v is None or len(v) != 2 or any(int(x) <= 0 for x in v):
                raise ConfigError(f"model.inference.{key} must be two positive ints [h, w] for slide inference, got {v}")
        if any(int(s) > int(c) for s, c in zip(cfg["stride"], cfg["crop"])):
            raise ConfigError(
                f"model.inference.stride {list(cfg['stride'])} exceeds crop {list(cfg['crop'])}: windows would leave pixels "
                f"unseen; use stride <= crop"
            )
        cfg["crop"], cfg["stride"] = [int(x) for x in cfg["crop"]], [int(x) for x in cfg["stride"]]
    cfg["mode"] = mode
    return cfg


def _forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = net(x)
    return out["out"] if isinstance(out, dict) else out


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Start offsets of the windows along one axis (MMSeg's grid: the last window ends at the border)."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    return sorted({max(min(i * stride, size - crop), 0) for i in range(n)})


def slide_logits(net: nn.Module, x: torch.Tensor, crop: tuple[int, int], stride: tuple[int, int], num_classes: int) -> torch.Tensor:
    """Average logits of overlapping crop windows (MMSeg's slide inference)."""
    n, _, h, w = x.shape
    ch, cw = crop
    logits = x.new_zeros((n, num_classes, h, w))
    count = x.new_zeros((1, 1, h, w))
    for y1 in window_starts(h, ch, stride[0]):
        for x1 in window_starts(w, cw, stride[1]):
            y2, x2 = min(y1 + ch, h), min(x1 + cw, w)
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
    """Logits (N, C, *out_size): the network at the input's own resolution, then bilinear resize to the label's size."""
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
