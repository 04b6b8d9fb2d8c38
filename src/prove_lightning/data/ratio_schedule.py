"""The real fraction of each training batch as a pure function of the step (constant or a curriculum).

``strategy.ratio`` is the fraction of a batch that is real (0.5 = half generated, 0 = all generated,
1 = real only). ``strategy.schedule`` says how it varies over training; fractions refer to max_steps:

    {kind: constant}                          ratio at every step
    {kind: first, until: 0.5}                 ratio during the first 50% of steps, then real only (1.0)
    {kind: last, start: 0.5}                  real only (1.0) until 50% of steps, then ratio
    {kind: linear, start: 1.0, end: null}     ramp from start to end (default: ratio) between
                                              steps from_frac*T and to_frac*T (defaults 0 and 1)

The sampler turns a ratio into floor(batch * ratio) real slots per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from prove_lightning.errors import ConfigError

# a tolerance so that e.g. 10 * 0.7 (= 7.000000000000001 or 6.9999...) gives 7 real slots, as written
_EPS = 1e-9


def real_count(batch_size: int, ratio: float) -> int:
    """floor(batch_size * ratio): the number of real samples in a batch."""
    return min(batch_size, max(0, math.floor(batch_size * ratio + _EPS)))


def check_ratio(ratio: Any, what: str = "strategy.ratio") -> float:
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number in [0, 1] (fraction of each batch that is real), got {ratio!r}") from None
    if not 0.0 <= r <= 1.0 or math.isnan(r):
        raise ConfigError(f"{what} must be in [0, 1] (1 = real only, 0 = all generated), got {ratio!r}")
    return r


@dataclass(frozen=True)
class RatioSchedule:
    """Base: ``ratio_at(step)`` in [0, 1]; ``total_steps`` is the run's max_steps."""

    ratio: float
    total_steps: int

    def ratio_at(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(RatioSchedule):
    def ratio_at(self, step: int) -> float:
        return self.ratio

    def describe(self) -> str:
        return f"constant ratio {self.ratio}"


@dataclass(frozen=True)
class GeneratedFirst(RatioSchedule):
    until: float = 0.5

    def ratio_at(self, step: int) -> float:
        return self.ratio if step < self.until * self.total_steps else 1.0

    def describe(self) -> str:
        return f"ratio {self.ratio} for steps < {self.until:g} x {self.total_steps}, then real only"


@dataclass(frozen=True)
class GeneratedLast(RatioSchedule):
    start: float = 0.5

    def ratio_at(self, step: int) -> float:
        return self.ratio if step >= self.start * self.total_steps else 1.0

    def describe(self) -> str:
        return f"real only for steps < {self.start:g} x {self.total_steps}, then ratio {self.ratio}"


@dataclass(frozen=True)
class Linear(RatioSchedule):
    start: float = 1.0
    end: float | None = None
    from_frac: float = 0.0
    to_frac: float = 1.0

    def ratio_at(self, step: int) -> float:
        end = self.ratio if self.end is None else self.end
        a, b = self.from_frac * self.total_steps, self.to_frac * self.total_steps
        if step <= a or b <= a:
            return self.start if step <= a else end
        t = min(1.0, (step - a) / (b - a))
        return self.start + (end - self.start) * t

    def describe(self) -> str:
        end = self.ratio if self.end is None else self.end
        return f"linear ratio {self.start} -> {end} over steps {self.from_frac:g}..{self.to_frac:g} x {self.total_steps}"


SCHEDULES: dict[str, Callable[..., RatioSchedule]] = {
    "constant": Constant,
    "first": GeneratedFirst,
    "last": GeneratedLast,
    "linear": Linear,
}


def build_schedule(cfg: Mapping[str, Any] | str | None, ratio: float, total_steps: int) -> RatioSchedule:
    """``strategy.schedule`` (a mapping with ``kind``, a kind name, or null = constant) -> a RatioSchedule."""
    ratio = check_ratio(ratio)
    if cfg is None:
        cfg = {"kind": "constant"}
    elif isinstance(cfg, str):
        cfg = {"kind": cfg}
    params = dict(cfg)
    kind = params.pop("kind", "constant")
    if kind not in SCHEDULES:
        raise ConfigError(f"strategy.schedule.kind={kind!r} is unknown; use one of {sorted(SCHEDULES)}")
    if kind == "linear" and "from" in params:
        params["from_frac"] = params.pop("from")
    if kind == "linear" and "to" in params:
        params["to_frac"] = params.pop("to")
    try:
        sched = SCHEDULES[kind](ratio=ratio, total_steps=int(total_steps), **params)
    except TypeError as e:
        raise ConfigError(f"strategy.schedule ({kind}): {e}; see prove_lightning/data/ratio_schedule.py for its options") from None
    for k in ("until", "start", "end", "from_frac", "to_frac"):
        v = getattr(sched, k, None)
        if v is not None and not 0.0 <= float(v) <= 1.0:
            raise ConfigError(f"strategy.schedule.{k} must be in [0, 1], got {v}")
    return sched
