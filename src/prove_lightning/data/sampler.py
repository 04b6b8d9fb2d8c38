"""Batch samplers whose position is a pure function of the global step.

Sample k of the whole run (k = (step * world + rank) * batch + slot) is element k mod n of the
permutation drawn from (seed, k // n): every pass over the data is reshuffled, ranks get disjoint
slices, and a resumed run starts at its step without loading the batches it skips.

Under DDP the ranks' batches of one step are consecutive slices of one *global* batch (world x batch
samples): its samples and their per-sample seeds (keyed by the position in the global batch, not by
rank) are those a single process with batch = world x batch draws, so 2 ranks x 4 train on exactly the
samples of 1 process x 8, and a run resumed on another world size with the same global batch continues
the same sample sequence.

MixedBatchSampler does the same for two pools (real = pool 0, generated = pool 1): the global batch holds
floor(global batch * ratio(step)) real samples and the rest generated, spread over the ranks as evenly as
possible (each rank still gets `batch` samples); each pool keeps its own draw counter, which is a prefix
sum over steps, so it too is a pure function of the step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np
from torch.utils.data import Sampler

from prove_lightning.data.ratio_schedule import Constant, RatioSchedule, real_count
from prove_lightning.errors import ConfigError, DataError

REAL_POOL, GENERATED_POOL = 0, 1


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
        offset = self.rank * self.batch_size  # this rank's slice of the global batch
        base = step * self.world_size * self.batch_size + offset
        return [(pool_index(self.seed, 0, self.n, base + j), sample_seed(self.seed, step, 0, offset + j)) for j in range(self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_at(step)

    def __len__(self) -> int:
        return self.total_steps


def real_counts(schedule: RatioSchedule, batch_size: int, total_steps: int) -> np.ndarray:
    """Real samples per batch for every step of the run (generated = batch_size - that)."""
    return np.fromiter((real_count(batch_size, schedule.ratio_at(s)) for s in range(total_steps)), dtype=np.int64, count=total_steps)


class MixedBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of floor(B x ratio(step)) real then B - that generated items, as (index, per-sample seed).

    Indices address one dataset holding the real records first (0..n_real-1) and the generated
    records after them (n_real..n_real+n_generated-1). The ratio applies to the global batch
    (world x batch); draw counters per pool are prefix sums over steps of the global counts; rank r takes
    its own consecutive slice of each step's draws, so ranks are disjoint within a pass and every pass of
    each pool is a fresh permutation from (seed, pool, pass).
    """

    def __init__(
        self,
        n_real: int,
        n_generated: int,
        batch_size: int,
        total_steps: int,
        seed: int,
        schedule: RatioSchedule | float = 1.0,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size <= 0 or total_steps <= 0:
            raise ConfigError(f"batch size ({batch_size}) and total steps ({total_steps}) must be > 0")
        if not isinstance(schedule, RatioSchedule):
            schedule = Constant(ratio=float(schedule), total_steps=total_steps)
        self.n_real, self.n_generated = n_real, n_generated
        self.batch_size, self.total_steps, self.seed = batch_size, total_steps, seed
        self.schedule = schedule
        self.start_step, self.rank, self.world_size = start_step, rank, world_size
        # real samples of the global batch per step, and this rank's share (ranks < R mod world get one more)
        self.global_real_per_step = real_counts(schedule, batch_size * world_size, total_steps)
        self.real_per_step = self.global_real_per_step // world_size + (rank < self.global_real_per_step % world_size)
        self._real_offset = rank * (self.global_real_per_step // world_size) + np.minimum(rank, self.global_real_per_step % world_size)
        self._gen_offset = rank * batch_size - self._real_offset
        gen_per_step = batch_size * world_size - self.global_real_per_step
        if self.real_per_step.any() and n_real <= 0:
            raise DataError("the real training pool is empty but the ratio schedule asks for real samples")
        if gen_per_step.any() and n_generated <= 0:
            raise DataError(
                f"the generated pool is empty but the ratio schedule ({schedule.describe()}) asks for generated samples; "
                "check the manifest (see the mixing report in audit.json) or set strategy.ratio=1.0"
            )
        # draws of each pool consumed by all ranks before step s
        self._real_before = np.concatenate([[0], np.cumsum(self.global_real_per_step)[:-1]])
        self._gen_before = np.concatenate([[0], np.cumsum(gen_per_step)[:-1]])

    def counts_at(self, step: int) -> tuple[int, int]:
        """(real, generated) samples in this rank's batch of ``step``."""
        r = int(self.real_per_step[step])
        return r, self.batch_size - r

    def global_counts_at(self, step: int) -> tuple[int, int]:
        """(real, generated) samples in the global batch of ``step`` (all ranks together)."""
        r = int(self.global_real_per_step[step])
        return r, self.batch_size * self.world_size - r

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        r, g = self.counts_at(step)
        off_r, off_g = int(self._real_offset[step]), int(self._gen_offset[step])
        base_r = int(self._real_before[step]) + off_r
        base_g = int(self._gen_before[step]) + off_g
        # per-sample seeds keyed by the position in the global batch: [all real draws, then all generated]
        global_real = int(self.global_real_per_step[step])
        items = [(pool_index(self.seed, REAL_POOL, self.n_real, base_r + j), sample_seed(self.seed, step, 0, off_r + j)) for j in range(r)]
        items += [
            (self.n_real + pool_index(self.seed, GENERATED_POOL, self.n_generated, base_g + j), sample_seed(self.seed, step, 0, global_real + off_g + j))
            for j in range(g)
        ]
        return items

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_at(step)

    def __len__(self) -> int:
        return self.total_steps
