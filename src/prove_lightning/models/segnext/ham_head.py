"""SegNeXt's LightHamHead: multi-stage features -> squeeze -> Hamburger (NMF matrix decomposition) -> align -> classes.

NMF2D factorises the (D x N) feature matrix into R non-negative bases and coefficients with Lee-Seung
multiplicative updates from random bases: ``train_steps`` updates in training, ``eval_steps`` in evaluation,
all but the last coefficient update without gradient (the one-step gradient of the Hamburger paper).
The reference NMF2D sets the softmax temperature ``inv_t`` to 1 (over its base class's 100); so do we.
Random bases make outputs depend on the RNG: in training they come from torch's global RNG (which SegModule
seeds per step), in evaluation from a fixed-seed generator so test results are repeatable.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ConvGNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, groups: int, act: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 1, bias=False), nn.GroupNorm(groups, cout)]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class NMF2D(nn.Module):
    def __init__(self, md_s: int = 1, md_r: int = 16, train_steps: int = 6, eval_steps: int = 7, inv_t: float = 1.0, eval_seed: int = 0) -> None:
        super().__init__()
        self.S, self.R = md_s, md_r
        self.train_steps, self.eval_steps = train_steps, eval_steps
        self.inv_t = inv_t
        self.eval_seed = eval_seed

    @staticmethod
    def _update_coef(x: torch.Tensor, bases: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        numerator = torch.bmm(x.transpose(1, 2), bases)  # (BS, N, R)
        denominator = coef.bmm(bases.transpose(1, 2).bmm(bases))
        return coef * numerator / (denominator + 1e-6)

    @staticmethod
    def _update_bases(x: torch.Tensor, bases: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        numerator = torch.bmm(x, coef)  # (BS, D, R)
        denominator = bases.bmm(coef.transpose(1, 2).bmm(coef))
        return bases * numerator / (denominator + 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        dtype = x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            d, n = c // self.S, h * w
            x = x.float().reshape(b * self.S, d, n)
            gen = None
            if not self.training:
                gen = torch.Generator(device=x.device).manual_seed(self.eval_seed)
            bases = F.normalize(torch.rand((b * self.S, d, self.R), device=x.device, generator=gen), dim=1)
            with torch.no_grad():
                coef = F.softmax(self.inv_t * torch.bmm(x.transpose(1, 2), bases), dim=-1)
                for _ in range(self.train_steps if self.training else self.eval_steps):
                    coef = self._update_coef(x, bases, coef)
                    bases = self._update_bases(x, bases, coef)
            coef = self._update_coef(x, bases, coef)  # with gradient
            out = torch.bmm(bases, coef.transpose(1, 2)).reshape(b, c, h, w)
        return out.to(dtype)


class Hamburger(nn.Module):
    def __init__(self, channels: int, groups: int, **nmf: float) -> None:
        super().__init__()
        self.ham_in = nn.Conv2d(channels, channels, 1)
        self.ham = NMF2D(**nmf)  # type: ignore[arg-type]
        self.ham_out = ConvGNReLU(channels, channels, groups, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enjoy = F.relu(self.ham_in(x), inplace=True)  # NMF needs a non-negative matrix
        return F.relu(x + self.ham_out(self.ham(enjoy)), inplace=True)


class LightHamHead(nn.Module):
    """Concatenate stages 2-4 at stage-2 resolution -> squeeze (1x1, GN) -> Hamburger -> align (1x1, GN) -> classifier."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        ham_channels: int = 512,
        channels: int = 512,
        gn_groups: int = 32,
        dropout: float = 0.1,
        md_s: int = 1,
        md_r: int = 16,
        train_steps: int = 6,
        eval_steps: int = 7,
        inv_t: float = 1.0,
    ) -> None:
        super().__init__()
        self.squeeze = ConvGNReLU(sum(in_channels), ham_channels, gn_groups)
        self.hamburger = Hamburger(ham_channels, gn_groups, md_s=md_s, md_r=md_r, train_steps=train_steps, eval_steps=eval_steps, inv_t=inv_t)
        self.align = ConvGNReLU(ham_channels, channels, gn_groups)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[-2:]
        x = torch.cat([feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in feats[1:]], dim=1)
        x = self.align(self.hamburger(self.squeeze(x)))
        return self.conv_seg(self.dropout(x))
