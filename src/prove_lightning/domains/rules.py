"""The ``rules`` tagger: thresholds on image statistics (features.py), read from conf/domains/rules.yaml.

Rules are tried in the config's order; the first whose every condition holds names the domain, else the
``default`` domain. A condition is ``<statistic>: [low, high]`` (either bound null = open). Confidence is how
far inside its bounds the deciding rule's tightest condition is (0.5 at a bound, towards 1 deep inside),
and ``default_confidence`` for the default: rules are a heuristic, and the CSV says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from prove_lightning.data.domains import DOMAINS
from prove_lightning.domains.features import load_small, NAMES, statistics
from prove_lightning.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    domain: str
    conditions: tuple[tuple[str, float | None, float | None], ...]

    def margin(self, stats: Mapping[str, float]) -> float | None:
        """None when a condition fails, else the smallest normalised distance to a bound (>= 0)."""
        worst = np.inf
        for name, lo, hi in self.conditions:
            v = stats[name]
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                return None
            for bound in (lo, hi):
                if bound is not None:
                    worst = min(worst, abs(v - bound) / max(abs(bound), 0.05))
        return float(worst)


class RulesTagger:
    name = "rules"

    def __init__(self, rules: Sequence[Mapping[str, Any]], default: str = "clear_day", default_confidence: float = 0.4) -> None:
        self.rules = [self._rule(i, r) for i, r in enumerate(rules)]
        if default not in DOMAINS:
            raise ConfigError(f"domains rules: default {default!r} is not a domain name {list(DOMAINS)}")
        self.default, self.default_confidence = default, float(default_confidence)

    @staticmethod
    def _rule(i: int, spec: Mapping[str, Any]) -> Rule:
        where = f"conf/domains/rules.yaml rules[{i}]"
        domain = spec.get("domain")
        if domain not in DOMAINS:
            raise ConfigError(f"{where}: domain {domain!r} is not one of {list(DOMAINS)}")
        conds = []
        for name, bounds in dict(spec.get("when") or {}).items():
            if name not in NAMES:
                raise ConfigError(f"{where}: unknown statistic {name!r}; use one of {list(NAMES)}")
            if not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2:
                raise ConfigError(f"{where}: {name} must be [low, high] (null for an open bound), got {bounds!r}")
            lo, hi = (None if b is None else float(b) for b in bounds)
            conds.append((name, lo, hi))
        if not conds:
            raise ConfigError(f"{where}: a rule needs at least one condition under 'when'")
        return Rule(domain, tuple(conds))

    def predict(self, rgb: np.ndarray) -> tuple[str, float]:
        stats = statistics(rgb)
        for rule in self.rules:
            m = rule.margin(stats)
            if m is not None:
                return rule.domain, round(0.5 + 0.5 * min(m, 1.0), 4)
        return self.default, self.default_confidence

    @staticmethod
    def read_image(path: str | Path) -> np.ndarray:
        return load_small(path)

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        return [self.predict(im) for im in images]

    def describe(self) -> dict[str, Any]:
        return {"tagger": self.name, "rules": [(r.domain, r.conditions) for r in self.rules], "default": self.default}
