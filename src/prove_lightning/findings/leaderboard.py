"""Leaderboards: each strategy's mean mIoU and gain over the baseline on matched cells, with intervals.

Definitions (also in the README, "Findings"):
- A cell is (dataset, model, test set, domain, loss) (``cell`` in conf/findings/default.yaml). A strategy's
  row in a cell is its final checkpoint's metric, averaged over seeds first (mean, std, n_seeds).
- The baseline of a cell is the ``baseline`` strategy at ratio 1.0 of the same cell, from the study stage if
  it has one, else from the stage(s) its config names in ``stage.baseline_stage`` (noise and s1_ratio: s1).
- Gain = strategy mIoU - baseline mIoU, in points. A strategy's mean mIoU and mean gain use only its cells
  that have a baseline (matched cells); cells without one are counted as ``n_unmatched`` and left out.
- The interval and p-value of a mean gain come from the paired bootstrap over test images (bootstrap.py); a
  line whose cells lack per-image matrices gets none ('n/a'), never an interval made up from other data.
- Rank: by mean gain, highest first.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from prove_lightning.findings.bootstrap import Bootstrap, significance
from prove_lightning.findings.config import baseline_stages, family_of
from prove_lightning.findings.rows import final_rows

KEYS = ["run_id", "step", "test_dataset", "domain"]


def _keys(g: pd.DataFrame) -> list[tuple]:
    return [(str(r), int(s), str(t), str(d)) for r, s, t, d in zip(g["run_id"], g["step"], g["test_dataset"], g["domain"])]


def _seed_mean(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One line per group: mean / std of mIoU over seeds (runs), n_seeds and the runs' store keys."""
    if df.empty:
        return pd.DataFrame(columns=[*by, "mIoU", "std", "n_seeds", "keys"])
    grouped = df.groupby(by, sort=False, dropna=False)
    out = grouped.agg(mIoU=("mIoU", "mean"), std=("mIoU", "std"), n_seeds=("mIoU", "size")).reset_index()
    # the keys per group without a Python-level aggregation: rows ordered by group number, split at the counts
    keys = np.empty(len(df), dtype=object)
    cols = [[v if isinstance(v, str) else str(v) for v in df[c].tolist()] for c in ("run_id", "test_dataset", "domain")]
    keys[:] = list(zip(cols[0], df["step"].astype("int64").tolist(), cols[1], cols[2]))
    codes = grouped.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(out))
    out["keys"] = [list(k) for k in np.split(keys[order], np.cumsum(counts)[:-1])]
    return out


def baseline_rows(df: pd.DataFrame, stage: str, cfg: dict[str, Any]) -> pd.DataFrame:
    """Final baseline rows for a stage's cells: its own, else those of its reference stages (first found wins)."""
    base = cfg.get("baseline", {})
    stages = baseline_stages(stage)
    pool = final_rows(df[df["stage"].isin(stages)])
    pool = pool[(pool["strategy"] == str(base.get("strategy", "baseline"))) & (pool["label"] == str(base.get("strategy", "baseline")))]
    pool = pool[np.isclose(pool["ratio"], float(base.get("ratio", 1.0)))]
    order = {s: i for i, s in enumerate(stages)}
    cell = list(cfg["cell"])
    pool = pool.assign(_o=pool["stage"].map(order))
    first = pool.groupby(cell, dropna=False)["_o"].transform("min")
    return pool[pool["_o"] == first].drop(columns="_o")


def matched_cells(df: pd.DataFrame, stage: str, cfg: dict[str, Any], boot: Bootstrap | None = None, domains: Sequence[str] | None = None) -> pd.DataFrame:
    """One line per (label, ratio, cell) of the stage with its baseline, gain and bootstrap gain samples."""
    cell = list(cfg["cell"])
    study = final_rows(df[df["stage"] == stage])
    base = baseline_rows(df, stage, cfg)
    if domains is not None:
        study, base = study[study["domain"].isin(domains)], base[base["domain"].isin(domains)]
    s = _seed_mean(study, ["label", "ratio", *cell])
    b = _seed_mean(base, cell).rename(columns={"mIoU": "baseline", "std": "baseline_std", "n_seeds": "baseline_seeds", "keys": "baseline_keys"})
    out = s.merge(b, on=cell, how="left")
    out["matched"] = out["baseline"].notna()
    out["gain"] = out["mIoU"] - out["baseline"]
    out["family"] = out["label"].map({x: family_of(x, cfg.get("families", {})) for x in out["label"].unique()})
    samples = []
    for k, bk, m in zip(out["keys"], out["baseline_keys"], out["matched"]):
        a = boot.side(k) if boot is not None and m else None
        z = boot.side(bk) if boot is not None and m else None
        samples.append(None if a is None or z is None else a - z)
    out["boot"] = samples
    return out


def summarize(cells: pd.DataFrame, by: Sequence[str] = (), boot: Bootstrap | None = None) -> pd.DataFrame:
    """Per (label, ratio, *by): mean mIoU, mean gain with interval and p, n cells, n positive, rank."""
    cols = ["label", "ratio", *by]
    if cells.empty:
        return pd.DataFrame()
    m = cells[cells["matched"]].assign(pos=lambda d: d["gain"] > 0)
    extra = {} if "family" in cols else {"family": ("family", "first")}
    out = cells.assign(unmatched=~cells["matched"]).groupby(cols, sort=False, dropna=False).agg(**extra, n_unmatched=("unmatched", "sum"))
    agg = m.groupby(cols, sort=False, dropna=False).agg(
        mIoU=("mIoU", "mean"), baseline=("baseline", "mean"), gain=("gain", "mean"), n_cells=("gain", "size"),
        n_positive=("pos", "sum"), n_seeds=("n_seeds", "max"), seed_std=("std", "mean"),
    )
    out = out.join(agg, how="left")
    out[["n_cells", "n_positive", "n_seeds"]] = out[["n_cells", "n_positive", "n_seeds"]].fillna(0).astype(int)
    lo, hi, p = {}, {}, {}
    if m["boot"].notna().any():  # intervals only where every matched cell of a line has its bootstrap samples
        b = boot or Bootstrap()
        for key, g in m.groupby(cols, sort=False, dropna=False)["boot"]:
            if g.notna().all():
                lo[key], hi[key], p[key] = b.interval(np.mean(np.stack(g.to_list()), axis=0))
    keys = list(out.index)
    out["ci_low"] = [lo.get(k, np.nan) for k in keys]
    out["ci_high"] = [hi.get(k, np.nan) for k in keys]
    out["p"] = [p.get(k, np.nan) for k in keys]
    out["sig"] = [significance(a, z) for a, z in zip(out["ci_low"], out["ci_high"])]
    out = out.reset_index()
    group = list(by)
    ranker = out.groupby(group)["gain"] if group else out["gain"]
    out["rank"] = ranker.rank(ascending=False, method="min").astype("Int64")
    order = [*cols, *(["family"] if "family" not in cols else []), "mIoU", "baseline", "gain", "ci_low", "ci_high", "p", "sig", "n_cells", "n_positive", "n_unmatched", "n_seeds", "seed_std", "rank"]
    return out[order].sort_values([*group, "rank"], na_position="last").reset_index(drop=True)


BREAKDOWNS = {"dataset": ["dataset"], "domain": ["domain"], "model": ["model"], "family": ["family"]}


def leaderboard(df: pd.DataFrame, stage: str, cfg: dict[str, Any], boot: Bootstrap | None = None) -> dict[str, pd.DataFrame]:
    """The main table (over ``leaderboard_domains``) and its breakdowns per dataset, test domain, model, family."""
    main_domains = list(cfg.get("leaderboard_domains", ["all"]))
    cells = matched_cells(df, stage, cfg, boot)
    main = cells[cells["domain"].isin(main_domains)]
    out = {"leaderboard": summarize(main, (), boot)}
    for name, by in BREAKDOWNS.items():
        src = cells[cells["domain"] != "all"] if name == "domain" else main
        out[f"by_{name}"] = summarize(src, by, boot)
    out["cells"] = cells.drop(columns=["keys", "baseline_keys", "boot"])
    return out
