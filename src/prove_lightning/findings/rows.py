"""Rows for the findings: the results store (or a CSV in its schema), exclusions, labels, final checkpoints.

A row's ``label`` names its training variant as the run directory does: ``strategy`` plus ``+augment`` when an
augmentation other than the strategy's own was added (gen_Img2Img+cutmix in the combination study). Rows with
no ratio are real-only (1.0); rows with no seed ran with the default seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.results import STORE_NAME, _STR_COLUMNS, _normalize


@dataclass
class Rows:
    """Rows plus where they came from and what was dropped (said in every output)."""

    df: pd.DataFrame
    source: str
    output_root: Path | None
    notes: list[str] = field(default_factory=list)


def _label(strategy: str, augment: Any, run_id: str) -> str:
    parts = str(run_id).split("/")
    if len(parts) >= 4 and parts[1].split("+", 1)[0] == strategy:
        return parts[1]
    aug = "" if augment is None or (isinstance(augment, float) and np.isnan(augment)) else str(augment)
    if aug in ("", "none", "nan") or strategy.startswith("std_"):
        return strategy
    return f"{strategy}+{aug}"


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Types and derived columns the analyses rely on (label, numeric ratio, seed, loss)."""
    df = _normalize(df.copy())
    for col, default in (("loss", "ce"), ("augment", "none"), ("seed", np.nan), ("ratio", 1.0)):
        if col not in df.columns:
            df[col] = default
    df["ratio"] = pd.to_numeric(df["ratio"], errors="coerce").fillna(1.0).round(4)
    df["loss"] = df["loss"].replace({"nan": "ce"})
    df["mIoU"] = pd.to_numeric(df["mIoU"], errors="coerce")
    runs = df.drop_duplicates("run_id")[["run_id", "strategy", "augment"]]  # one label per run: computed once
    labels = {r: _label(s, a, r) for r, s, a in zip(runs["run_id"].tolist(), runs["strategy"].tolist(), runs["augment"].tolist())}
    df["label"] = df["run_id"].map(labels)
    return df


def load_rows(output_root: str | Path | None = None, results: str | Path | None = None) -> Rows:
    """The store under ``output_root``, or the CSV ``results`` (rows exported from elsewhere)."""
    if results is not None:
        path = Path(results)
        if not path.is_file():
            raise ConfigError(f"--results {path}: no such file; pass a CSV in the results store's schema")
        df = pd.read_csv(path, dtype={c: str for c in _STR_COLUMNS})
        source = str(path)
    else:
        root = Path(output_root or "outputs")
        path = root / STORE_NAME
        if not path.is_file():
            raise ConfigError(f"no results store at {path}; pass --output-root (or set PROVE_OUTPUT_ROOT) or --results FILE")
        df = pd.read_csv(path, dtype={c: str for c in _STR_COLUMNS})
        source = str(path)
    missing = [c for c in ("run_id", "stage", "strategy", "dataset", "model", "step", "test_dataset", "domain", "mIoU") if c not in df.columns]
    if missing:
        raise ConfigError(f"{source}: lacks columns {missing}; the results store's schema is in evaluation/results.py")
    return Rows(prepare(df), source, Path(output_root) if output_root is not None else None)


def exclude(rows: Rows, rules: list[dict[str, Any]], include_excluded: bool = False) -> Rows:
    """Drop rows matching any rule (every key but 'reason' must match); each drop is noted with its reason."""
    df = rows.df
    for rule in rules or []:
        cond = {k: v for k, v in rule.items() if k != "reason"}
        if not cond:
            continue
        mask = pd.Series(True, index=df.index)
        for k, v in cond.items():
            if k not in df.columns:
                mask &= False
                continue
            mask &= df[k].astype(str).isin([str(x) for x in (v if isinstance(v, list) else [v])])
        n = int(mask.sum())
        desc = ", ".join(f"{k}={v}" for k, v in cond.items())
        if include_excluded:
            if n:
                rows.notes.append(f"kept {n} rows of {desc} (--include-excluded; normally excluded: {rule.get('reason', '')})")
            continue
        rows.notes.append(f"excluded {desc} ({n} rows): {rule.get('reason', 'no reason given')}")
        df = df[~mask]
    rows.df = df
    return rows


def final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Per run, the rows of its highest tested step."""
    if df.empty:
        return df
    return df[df["step"] == df.groupby("run_id")["step"].transform("max")]
