"""Small heads the recipes add on top of library networks: MMSeg's FCN head (auxiliary head, HRNet head)."""

from __future__ import annotations

from torch import nn


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class FCNHead(nn.Sequential):
    """``num_convs`` conv-BN-ReLU blocks, dropout, 1x1 classifier (MMSeg FCNHead with concat_input=False)."""

    def __init__(self, in_channels: int, channels: int, num_classes: int, num_convs: int = 1, kernel_size: int = 3, dropout: float = 0.1) -> None:
        layers: list[nn.Module] = []
        cin = in_channels
        for _ in range(num_convs):
            layers.append(ConvBNReLU(cin, channels, kernel_size))
            cin = channels
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        layers.append(nn.Conv2d(cin, num_classes, 1))
        super().__init__(*layers)
