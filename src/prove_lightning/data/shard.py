"""Evaluation sharding across DDP ranks without padding: every image is scored exactly once.

torch's DistributedSampler pads ranks to equal length by repeating images, which would count
those images twice in a summed confusion matrix.
"""

from __future__ import annotations

from typing import Iterator

from torch.utils.data import Sampler


class ShardSampler(Sampler[int]):
    def __init__(self, n: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, n, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
