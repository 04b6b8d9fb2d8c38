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
    keys = pd.Series([tuple(k) for k in df[KEYS].astype({"step": int}).values.tolist()], index=df.index, name="key")
    grouped = df.assign(key=keys).groupby(by, sort=False, dropna=False)
    out = grouped.agg(mIoU=("mIoU", "mean"), std=("mIoU", "std"), n_seeds=("mIoU", "size"), keys=("key", list)).reset_index()
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
    out["family"] = [family_of(x, cfg.get("families", {})) for x in out["label"]]
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
    lines = []
    for key, g in cells.groupby(cols, sort=False, dropna=False):
        m = g[g["matched"]]
        line = dict(zip(cols, key if isinstance(key, tuple) else (key,)))
        line["family"] = g["family"].iloc[0]
        gains = m["gain"].to_numpy(float)
        vec = None
        if len(m) and all(v is not None for v in m["boot"]):
            vec = np.mean(np.stack(m["boot"].to_list()), axis=0)
        lo, hi, p = (boot or Bootstrap()).interval(vec) if len(m) else (np.nan, np.nan, np.nan)
        line.update(
            mIoU=float(m["mIoU"].mean()) if len(m) else np.nan,
            baseline=float(m["baseline"].mean()) if len(m) else np.nan,
            gain=float(gains.mean()) if len(m) else np.nan,
            ci_low=lo, ci_high=hi, p=p, sig=significance(lo, hi),
            n_cells=int(len(m)), n_positive=int((gains > 0).sum()), n_unmatched=int((~g["matched"]).sum()),
            n_seeds=int(m["n_seeds"].max()) if len(m) else 0,
            seed_std=float(m["std"].mean()) if len(m) and m["std"].notna().any() else np.nan,
        )
        lines.append(line)
    out = pd.DataFrame(lines)
    if out.empty:
        return out
    group = list(by)
    ranker = out.groupby(group)["gain"] if group else out["gain"]
    out["rank"] = ranker.rank(ascending=False, method="min").astype("Int64")
    return out.sort_values([*group, "rank"], na_position="last").reset_index(drop=True)


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
