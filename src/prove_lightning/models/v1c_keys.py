"""MMSeg / mmcv ResNetV1c state-dict keys -> timm's (our backbone's), with a report of what mapped.

MMSeg names the deep stem ``stem.{0,1,3,4,6,7}`` (conv, BN, conv, BN, conv, BN); timm names the convs and the
first two BNs ``conv1.{0,1,3,4,6}`` and the last BN ``bn1``. Stages (``layerN.i.conv1/bn1/.../downsample.{0,1}``)
have the same names. The classifier (``fc.*``) is dropped: a features-only backbone has none. Keys under a
``backbone.`` prefix (a whole MMSeg segmentor checkpoint) are taken from the backbone only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

import torch

STEM = {"stem.0.": "conv1.0.", "stem.1.": "conv1.1.", "stem.3.": "conv1.3.", "stem.4.": "conv1.4.", "stem.6.": "conv1.6.", "stem.7.": "bn1."}
_LAYER = re.compile(r"^layer[1-4]\.\d+\.(conv[1-3]|bn[1-3]|downsample\.[01])\.")


@dataclass
class KeyReport:
    renamed: list[tuple[str, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{len(self.renamed)} renamed, {len(self.kept)} kept as they are, {len(self.dropped)} dropped"]
        out += [f"  {a} -> {b}" for a, b in self.renamed]
        if self.dropped:
            out.append("dropped (no counterpart in the backbone): " + ", ".join(self.dropped))
        return out


def looks_like_mmseg_v1c(state: Mapping[str, torch.Tensor]) -> bool:
    return any(k.startswith(("stem.", "backbone.stem.")) for k in state)


def mmseg_v1c_to_timm(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], KeyReport]:
    """Our backbone's state dict from an MMSeg ResNetV1c one; raises ValueError when it is not one."""
    if any(k.startswith("backbone.") for k in state):
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    if not any(k.startswith("stem.") for k in state):
        raise ValueError("not an MMSeg ResNetV1c state dict: no 'stem.*' keys (a plain-stem ResNet has conv1/bn1)")
    out: dict[str, torch.Tensor] = {}
    report = KeyReport()
    for key, value in state.items():
        new = next((to + key[len(frm):] for frm, to in STEM.items() if key.startswith(frm)), None)
        if new is not None:
            report.renamed.append((key, new))
        elif _LAYER.match(key):
            new = key
            report.kept.append(key)
        else:
            report.dropped.append(key)
            continue
        out[new] = value
    return out, report
