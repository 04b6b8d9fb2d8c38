"""MixedBatchSampler and ratio schedules: exact per-batch counts, reshuffled passes, determinism, DDP split, resume."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from prove_lightning.data.ratio_schedule import build_schedule, real_count
from prove_lightning.data.sampler import MixedBatchSampler, StepBatchSampler
from prove_lightning.errors import ConfigError, DataError

N_REAL, N_GEN = 13, 29


def split(batch: list[tuple[int, int]], n_real: int = N_REAL) -> tuple[list[int], list[int]]:
    idx = [i for i, _ in batch]
    return [i for i in idx if i < n_real], [i - n_real for i in idx if i >= n_real]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 7, 8, 16])
@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_every_batch_holds_floor_b_ratio_real_samples(batch_size: int, ratio: float) -> None:
    s = MixedBatchSampler(N_REAL, N_GEN, batch_size, total_steps=40, seed=3, schedule=ratio)
    want_real = int(np.floor(batch_size * ratio))
    for step, batch in enumerate(s):
        real, gen = split(batch)
        assert len(batch) == batch_size
        assert (len(real), len(gen)) == (want_real, batch_size - want_real), (step, batch)
        assert [i for i, _ in batch[:want_real]] == real  # real slots first, then generated
        assert all(0 <= g < N_GEN for g in gen)
    assert len(s) == 40


def test_floor_is_exact_for_decimal_ratios() -> None:
    # 10 * 0.7 is 7.000000000000001 and 100 * 0.29 is 28.999999999999996 in floating point
    assert real_count(10, 0.7) == 7 and real_count(100, 0.29) == 29 and real_count(3, 1 / 3) == 1
    assert [real_count(7, r) for r in (0, 0.25, 0.5, 0.75, 1)] == [0, 1, 3, 5, 7]


def test_ratio_one_is_real_only_and_equals_the_step_sampler() -> None:
    mixed = MixedBatchSampler(N_REAL, 0, 5, total_steps=30, seed=11, schedule=1.0)  # no generated pool at all
    plain = StepBatchSampler(N_REAL, 5, 30, 11)
    assert list(mixed) == list(plain)


def test_ratio_zero_is_all_generated_without_real_pool() -> None:
    s = MixedBatchSampler(0, N_GEN, 4, total_steps=10, seed=0, schedule=0.0)
    assert all(i >= 0 for b in s for i, _ in b) and all(len(split(b, 0)[1]) == 4 for b in s)


@pytest.mark.parametrize("pool", ["real", "generated"])
def test_each_pool_is_reshuffled_every_pass(pool: str) -> None:
    n_real, n_gen, b = 10, 6, 5
    s = MixedBatchSampler(n_real, n_gen, b, total_steps=60, seed=5, schedule=0.6)  # 3 real + 2 generated
    draws = list(itertools.chain.from_iterable(split(batch, n_real)[0 if pool == "real" else 1] for batch in s))
    n = n_real if pool == "real" else n_gen
    passes = [draws[k : k + n] for k in range(0, len(draws) - n + 1, n)]
    assert len(passes) >= 4
    for p in passes:
        assert sorted(p) == list(range(n)), "a pass must visit every item exactly once"
    assert len({tuple(p) for p in passes}) == len(passes), "every pass must be a new permutation"


def test_same_seed_same_sequence_other_seed_differs() -> None:
    a = list(MixedBatchSampler(N_REAL, N_GEN, 6, 25, seed=42, schedule=0.5))
    b = list(MixedBatchSampler(N_REAL, N_GEN, 6, 25, seed=42, schedule=0.5))
    c = list(MixedBatchSampler(N_REAL, N_GEN, 6, 25, seed=43, schedule=0.5))
    assert a == b and a != c
    # the per-sample seeds differ between slots and steps (augmentation is not repeated)
    seeds = [sd for batch in a for _, sd in batch]
    assert len(set(seeds)) == len(seeds)


def test_ddp_ranks_draw_disjoint_parts_that_cover_each_pass() -> None:
    n_real, n_gen, b, world = 12, 20, 4, 2  # per rank per step: 2 real + 2 generated
    ranks = [MixedBatchSampler(n_real, n_gen, b, 30, seed=9, schedule=0.5, rank=r, world_size=world) for r in range(world)]
    for pool, n in ((0, n_real), (1, n_gen)):
        per_step = [[split(rk.batch_at(s), n_real)[pool] for rk in ranks] for s in range(30)]
        for s, (r0, r1) in enumerate(per_step):
            assert not set(r0) & set(r1), f"step {s}: ranks share samples"  # pools divide evenly: no pass boundary inside a step
        # all ranks' draws in step order form the same stream as one process drawing world x as many
        stream = list(itertools.chain.from_iterable(itertools.chain.from_iterable(ps) for ps in per_step))
        for k in range(0, len(stream) - n + 1, n):
            assert sorted(stream[k : k + n]) == list(range(n)), "ranks together visit each item once per pass"
    # per-sample seeds differ between ranks
    assert ranks[0].batch_at(3)[0][1] != ranks[1].batch_at(3)[0][1]


def test_resume_continues_the_identical_sequence_from_the_step() -> None:
    sched = build_schedule({"kind": "linear", "start": 1.0}, 0.5, 50)
    full = list(MixedBatchSampler(N_REAL, N_GEN, 8, 50, seed=1, schedule=sched))
    for start in (1, 17, 49):
        resumed = MixedBatchSampler(N_REAL, N_GEN, 8, 50, seed=1, schedule=sched, start_step=start)
        assert list(resumed) == full[start:]
    # the position is a pure function of the step: batch_at needs no iteration history
    fresh = MixedBatchSampler(N_REAL, N_GEN, 8, 50, seed=1, schedule=sched)
    assert fresh.batch_at(33) == full[33]


def test_curriculum_schedules_per_step() -> None:
    b, t = 8, 100
    first = MixedBatchSampler(N_REAL, N_GEN, b, t, 0, build_schedule({"kind": "first", "until": 0.5}, 0.5, t))
    last = MixedBatchSampler(N_REAL, N_GEN, b, t, 0, build_schedule({"kind": "last", "start": 0.5}, 0.5, t))
    ramp = MixedBatchSampler(N_REAL, N_GEN, b, t, 0, build_schedule({"kind": "linear", "start": 1.0}, 0.5, t))
    assert [first.counts_at(s)[1] for s in (0, 49, 50, 99)] == [4, 4, 0, 0]
    assert [last.counts_at(s)[1] for s in (0, 49, 50, 99)] == [0, 0, 4, 4]
    real = [ramp.counts_at(s)[0] for s in range(t)]
    assert real[0] == 8 and real[-1] == 4 and all(a >= b_ for a, b_ in zip(real, real[1:]))
    assert {len(split(batch)[0]) for batch in ramp} == {4, 5, 6, 7, 8}


def test_bad_ratio_and_schedule_are_config_errors() -> None:
    for bad in (1.5, -0.1, "half", float("nan")):
        with pytest.raises(ConfigError, match=r"strategy.ratio must be"):
            build_schedule(None, bad, 10)
    with pytest.raises(ConfigError, match=r"schedule.kind='cosine' is unknown"):
        build_schedule({"kind": "cosine"}, 0.5, 10)
    with pytest.raises(ConfigError, match=r"schedule.until must be in \[0, 1\]"):
        build_schedule({"kind": "first", "until": 2}, 0.5, 10)
    with pytest.raises(ConfigError, match=r"schedule \(first\)"):
        build_schedule({"kind": "first", "untill": 0.3}, 0.5, 10)


def test_missing_pool_is_a_data_error() -> None:
    with pytest.raises(DataError, match="generated pool is empty"):
        MixedBatchSampler(N_REAL, 0, 4, 10, 0, 0.5)
    with pytest.raises(DataError, match="real training pool is empty"):
        MixedBatchSampler(0, N_GEN, 4, 10, 0, 0.5)


def test_datamodule_wires_schedule_and_domain_filter_from_the_strategy(train_cfg) -> None:
    from prove_lightning.config import instantiate

    cfg = train_cfg("strategy=gen_physics_weather", "strategy.domains=[foggy]", "strategy.schedule.kind=last", "trainer.max_steps=8", "data.batch_size=4")
    dm = instantiate(cfg.data)
    sampler = dm.train_dataloader().batch_sampler
    assert isinstance(sampler, MixedBatchSampler)
    assert [sampler.counts_at(s) for s in range(8)] == [(4, 0)] * 4 + [(2, 2)] * 4  # real only, then half generated
    assert {r.domain for r in dm.generated_records} == {"foggy"}
    mix = dm.describe()["mixing"]
    assert mix["schedule"] == "real only for steps < 0.5 x 8, then ratio 0.5" and mix["expected_real_fraction_over_run"] == 0.75
    assert mix["manifest"]["filtered"]["domain not in strategy.domains ['foggy']"] > 0
    assert mix["generated_pool_per_domain"] == {"foggy": len(dm.generated_records)}
