"""MSCAN, SegNeXt's convolutional encoder (multi-scale strip-convolution attention), written from the paper's design.

Stem: two stride-2 3x3 convs (BN, GELU between). Each later stage: 3x3 stride-2 conv + BN, then blocks of
  x = x + drop_path(ls1 * SpatialAttention(BN(x)));  x = x + drop_path(ls2 * MLP(BN(x)))
and a LayerNorm over channels at the end of the stage. Outputs strides 4, 8, 16, 32.
"""

from __future__ import annotations

from typing import Sequence

import torch
from timm.layers import DropPath
from torch import nn


class StemConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(cin, cout // 2, 3, 2, 1),
            nn.BatchNorm2d(cout // 2),
            nn.GELU(),
            nn.Conv2d(cout // 2, cout, 3, 2, 1),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class OverlapPatchEmbed(nn.Module):
    """3x3 stride-2 conv + BN."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 3, 2, 1)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


def _dw(dim: int, kh: int, kw: int) -> nn.Conv2d:
    return nn.Conv2d(dim, dim, (kh, kw), padding=(kh // 2, kw // 2), groups=dim)


class AttentionModule(nn.Module):
    """Depthwise 5x5, then three strip-conv branches (1xk + kx1, k = 7, 11, 21) summed with it, 1x1, times the input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv0 = _dw(dim, 5, 5)
        self.conv0_1, self.conv0_2 = _dw(dim, 1, 7), _dw(dim, 7, 1)
        self.conv1_1, self.conv1_2 = _dw(dim, 1, 11), _dw(dim, 11, 1)
        self.conv2_1, self.conv2_2 = _dw(dim, 1, 21), _dw(dim, 21, 1)
        self.conv3 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.conv0(x)
        attn = attn + self.conv0_2(self.conv0_1(attn)) + self.conv1_2(self.conv1_1(attn)) + self.conv2_2(self.conv2_1(attn))
        return self.conv3(attn) * x


class SpatialAttention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = AttentionModule(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x)))) + x


class DWConv(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = _dw(dim, 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dwconv(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = DWConv(hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.dwconv(self.fc1(x))))))


class Block(nn.Module):
    def __init__(self, dim: int, mlp_ratio: float, drop_path: float = 0.0, layer_scale: float = 1e-2) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = SpatialAttention(dim)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.layer_scale_1 = nn.Parameter(layer_scale * torch.ones(dim, 1, 1))
        self.layer_scale_2 = nn.Parameter(layer_scale * torch.ones(dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class MSCAN(nn.Module):
    """MSCAN encoder; MSCAN-B = embed_dims (64, 128, 320, 512), depths (3, 3, 12, 3), mlp_ratios (8, 8, 4, 4)."""

    def __init__(
        self,
        embed_dims: Sequence[int] = (64, 128, 320, 512),
        depths: Sequence[int] = (3, 3, 12, 3),
        mlp_ratios: Sequence[float] = (8, 8, 4, 4),
        drop_path_rate: float = 0.1,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.embed_dims = list(embed_dims)
        self.num_stages = len(embed_dims)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        k = 0
        # attribute names (patch_embed1, block1, norm1, ...) follow the published MSCAN ImageNet checkpoints
        for i, (dim, depth, ratio) in enumerate(zip(embed_dims, depths, mlp_ratios)):
            embed = StemConv(in_channels, dim) if i == 0 else OverlapPatchEmbed(embed_dims[i - 1], dim)
            setattr(self, f"patch_embed{i + 1}", embed)
            setattr(self, f"block{i + 1}", nn.ModuleList(Block(dim, ratio, rates[k + j]) for j in range(depth)))
            setattr(self, f"norm{i + 1}", ChannelLayerNorm(dim, eps=1e-6))
            k += depth

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i in range(1, self.num_stages + 1):
            x = getattr(self, f"patch_embed{i}")(x)
            for blk in getattr(self, f"block{i}"):
                x = blk(x)
            x = getattr(self, f"norm{i}")(x)
            outs.append(x)
        return outs
