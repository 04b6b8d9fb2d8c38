"""Batch samplers whose position is a pure function of the global step.

Sample k of the whole run (k = (step * world + rank) * batch + slot) is element k mod n of the
permutation drawn from (seed, k // n): every pass over the data is reshuffled, ranks get disjoint
slices, and a resumed run starts at its step without loading the batches it skips.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np
from torch.utils.data import Sampler


@lru_cache(maxsize=8)
def _permutation(seed: int, pool: int, n: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, pool, epoch]).permutation(n)


def pool_index(seed: int, pool: int, n: int, k: int) -> int:
    """The k-th draw (0-based, over the whole run) from a pool of n items, reshuffled every pass."""
    return int(_permutation(seed, pool, n, k // n)[k % n])


def sample_seed(seed: int, step: int, rank: int, slot: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank, slot, 0x5EED]).generate_state(1)[0])


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields batches for steps [start_step, total_steps) as lists of (index, per-sample seed)."""

    def __init__(self, n: int, batch_size: int, total_steps: int, seed: int, start_step: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if n <= 0:
            raise ValueError("the training set is empty")
        self.n, self.batch_size, self.total_steps, self.seed = n, batch_size, total_steps, seed
        self.start_step, self.rank, self.world_size = start_step, rank, world_size

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        base = (step * self.world_size + self.rank) * self.batch_size
        return [(pool_index(self.seed, 0, self.n, base + j), sample_seed(self.seed, step, self.rank, j)) for j in range(self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_at(step)

    def __len__(self) -> int:
        return self.total_steps
