"""What every analysis shares: its context (rows, config, bootstrap, output folder), its result, the registry.

An analysis is ``fn(ctx, stages) -> Result``: ``stages[0]`` is the study stage, the rest its reference stages.
Its JSON keys are a stable interface (documented per analysis); its tables are written as CSV + Markdown and
its figures as PNG under ``<out>/<name>/``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from prove_lightning.errors import ConfigError
from prove_lightning.findings.bootstrap import Bootstrap
from prove_lightning.findings.config import baseline_stages
from prove_lightning.findings.leaderboard import _seed_mean
from prove_lightning.findings.rows import final_rows
from prove_lightning.io import atomic_write_text


@dataclass
class Context:
    df: pd.DataFrame
    cfg: dict[str, Any]
    out_dir: Path
    boot: Bootstrap | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    name: str
    stages: list[str]
    data: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return all(t.empty for t in self.tables.values())

    def to_json(self) -> str:
        return json.dumps({"analysis": self.name, "stages": self.stages, **self.data, "notes": self.notes}, default=_jsonable, allow_nan=False, indent=1)


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return None if math.isnan(float(x)) else float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def clean(x: Any) -> Any:
    """NaN -> None, numpy scalars -> Python (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(float(x)) else round(float(x), 4)
    return x


Analysis = Callable[[Context, list[str]], Result]
ANALYSES: dict[str, Analysis] = {}
# which tests an analysis reads: stages -> (stages whose tests to bootstrap, every tested step or final only)
Needs = Callable[[list[str]], tuple[list[str], bool]]
NEEDS: dict[str, Needs] = {}


def register(name: str, needs: Needs | None = None) -> Callable[[Analysis], Analysis]:
    def deco(fn: Analysis) -> Analysis:
        ANALYSES[name] = fn
        if needs is not None:
            NEEDS[name] = needs
        return fn

    return deco


def bootstrap_needs(name: str, stages: list[str]) -> tuple[list[str], bool]:
    """The stages (with their reference stages, see Session.load_bootstrap) and steps whose tests ``name`` compares."""
    return NEEDS[name](stages) if name in NEEDS else (list(stages), False)


def drop_keys(t: pd.DataFrame) -> pd.DataFrame:
    """A table without the store-key columns (they are for the bootstrap, not for readers)."""
    return t.drop(columns=[c for c in t.columns if c == "keys" or str(c).endswith("_keys")])


def default_pairs(cfg: dict[str, Any], name: str, stage: Sequence[str] | None) -> list[list[str]]:
    """Stage lists to run ``name`` on: the given ``--stage`` values (completed with their reference stages), or the config's."""
    pairs = [list(p) for p in cfg.get("analyses", {}).get(name, {}).get("pairs", [])]
    if stage:
        stage = list(stage)
        if len(stage) == 1:
            known = [p for p in pairs if p[0] == stage[0]]
            return [known[0] if known else [stage[0], *baseline_stages(stage[0])[1:]]]
        return [stage]
    if not pairs:
        raise ConfigError(f"analysis '{name}' has no default stages in conf/findings/default.yaml (analyses.{name}.pairs); pass --stage")
    return pairs


def run_analysis(name: str, ctx: Context, stages: list[str]) -> Result:
    if name not in ANALYSES:
        raise ConfigError(f"unknown analysis '{name}'; one of {', '.join(sorted(ANALYSES))}")
    res = ANALYSES[name](ctx, stages)
    out = ctx.out_dir / name / "_".join(stages)
    for tname, table in res.tables.items():
        atomic_write_text(out / f"{tname}.csv", table.to_csv(index=False))
        atomic_write_text(out / f"{tname}.md", markdown(table))
    atomic_write_text(out / f"{name}.json", res.to_json())
    return res


def is_p(col: Any) -> bool:
    """A p-value column (printed with 3 decimals; 0.00 would hide 0.004)."""
    return str(col) == "p" or str(col).endswith("_p") or str(col) == "p_value"


def markdown(table: pd.DataFrame) -> str:
    """Markdown of a table: 2 decimals (p-values 3), missing values (no interval, no matrices) as n/a."""
    if table.empty:
        return "(no rows)\n"
    from prove_lightning.findings.analyses.intervals import compact

    table = compact(table)
    t = table.astype(object).where(table.notna(), None)
    return t.to_markdown(index=False, floatfmt=[".3f" if is_p(c) else ".2f" for c in t.columns], missingval="n/a")


# ---------------------------------------------------------------- shared helpers
CELL_NO_DOMAIN = ["dataset", "model", "test_dataset", "loss"]


def seed_means(df: pd.DataFrame, stage: str | Sequence[str], domains: Sequence[str] | None = ("all",), final: bool = True) -> pd.DataFrame:
    """Per (stage, label, strategy, augment, ratio, dataset, model, test set, domain, loss[, step]): mIoU mean over
    seeds (std, n_seeds) and ``keys``, the store keys of the averaged rows (for intervals.py's bootstrap samples)."""
    stages = [stage] if isinstance(stage, str) else list(stage)
    d = df[df["stage"].isin(stages)]
    if final:
        d = final_rows(d)
    if domains is not None:
        d = d[d["domain"].isin(list(domains))]
    by = ["stage", "label", "strategy", "augment", "ratio", "dataset", "model", "test_dataset", "domain", "loss"] + ([] if final else ["step"])
    if d.empty:
        return pd.DataFrame(columns=[*by, "mIoU", "std", "n_seeds", "keys"])
    return _seed_mean(d, by).sort_values(by, kind="stable").reset_index(drop=True)


def baseline_of(df: pd.DataFrame, stages: Sequence[str], cfg: dict[str, Any], domains: Sequence[str] | None = ("all",)) -> pd.DataFrame:
    """Baseline mIoU per cell (dataset, model, test set, domain, loss) from the first of ``stages`` holding it,
    with ``baseline_keys`` (the store keys of its seeds)."""
    base = cfg.get("baseline", {})
    m = seed_means(df, stages, domains)
    m = m[(m["label"] == str(base.get("strategy", "baseline"))) & np.isclose(m["ratio"].astype(float), float(base.get("ratio", 1.0)))]
    order = {s: i for i, s in enumerate(stages)}
    m = m.assign(_o=m["stage"].map(order)).sort_values("_o")
    m = m.drop_duplicates(["dataset", "model", "test_dataset", "domain", "loss"])
    return m[["dataset", "model", "test_dataset", "domain", "loss", "mIoU", "keys"]].rename(columns={"mIoU": "baseline", "keys": "baseline_keys"})


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rho (average ranks for ties) and its two-sided p (scipy); NaN with fewer than 3 pairs."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if ok.sum() < 3 or np.ptp(xa[ok]) == 0 or np.ptp(ya[ok]) == 0:
        return float("nan"), float("nan")
    from scipy.stats import spearmanr

    r = spearmanr(xa[ok], ya[ok])
    return float(r.statistic), float(r.pvalue)
