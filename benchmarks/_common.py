"""Shared by the benchmark scripts: medians with spread, paired-ratio intervals, the figures table and its JSON.

Every script prints its own figures and, with ``--json PATH``, writes them as a list of
{name, value, unit, target, op, met, detail} for ``run_all.py``. A figure with a target is "met" when the
figure (for ratios: the upper end of its interval, so noise cannot pass a miss) satisfies it.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np


def load_avg() -> str:
    one, five, fifteen = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def median_spread(xs: Sequence[float]) -> tuple[float, float, float]:
    """(median, 25th, 75th percentile)."""
    a = np.asarray(xs, dtype=float)
    return float(np.median(a)), float(np.percentile(a, 25)), float(np.percentile(a, 75))


def ratio_interval(num: Sequence[float], den: Sequence[float], level: float = 0.9, seed: int = 0, n_boot: int = 2000) -> tuple[float, float, float]:
    """Median of the paired ratios num[i] / den[i] and a bootstrap interval of that median (paired samples from
    interleaved repeats: load that hits one pair hits both sides)."""
    r = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    if r.size == 1:
        return float(r[0]), float(r[0]), float(r[0])
    rng = np.random.default_rng(seed)
    boots = np.median(rng.choice(r, size=(n_boot, r.size), replace=True), axis=1)
    lo, hi = np.percentile(boots, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(np.median(r)), float(lo), float(hi)



def block_ratio_interval(num: Sequence[Sequence[float]], den: Sequence[Sequence[float]], level: float = 0.9, seed: int = 0, n_boot: int = 2000) -> tuple[float, float, float]:
    """Median of the paired ratios num[b][i] / den[b][i] over all blocks b and pairs i, and a two-level bootstrap
    interval of that median: resample whole blocks, then the pairs within each drawn block (pairs within a block
    are not independent: they share a set-up and a stretch of machine load; with few blocks, resampling blocks
    alone would give too few distinct draws)."""
    ratios = [np.asarray(n, dtype=float) / np.asarray(d, dtype=float) for n, d in zip(num, den) if len(n)]
    pooled = np.concatenate(ratios)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for k in range(n_boot):
        drawn = [ratios[j] for j in rng.integers(0, len(ratios), size=len(ratios))]
        boots[k] = np.median(np.concatenate([r[rng.integers(0, r.size, size=r.size)] for r in drawn]))
    lo, hi = np.percentile(boots, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(np.median(pooled)), float(lo), float(hi)

@dataclass
class Figure:
    name: str
    value: float
    unit: str = ""
    target: float | None = None
    op: str = "<="  # value op target
    judged: float | None = None  # the number compared with the target (default: value)
    detail: str = ""
    met: bool | None = field(default=None)

    def __post_init__(self) -> None:
        if self.target is not None:
            x = self.value if self.judged is None else self.judged
            self.met = bool(x <= self.target) if self.op == "<=" else bool(x >= self.target)


def emit(figures: list[Figure], json_path: str | None) -> None:
    for f in figures:
        tgt = f"  target {f.op} {f.target:g}: {'met' if f.met else 'NOT met'}" if f.target is not None else ""
        print(f"  -> {f.name}: {f.value:.4g} {f.unit}{tgt}  {f.detail}")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump([asdict(f) for f in figures], fh, indent=1)


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)
