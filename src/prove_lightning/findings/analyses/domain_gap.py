"""domain_gap: how much worse each strategy does on adverse weather than on clear days, and vs the baseline.

Per strategy (label, ratio) and cell (dataset, model, test set, loss): adverse mean = unweighted mean mIoU of
the adverse domains present (conf: adverse_domains), gap = adverse mean - reference domain (clear_day); the
gap change = strategy gap - baseline gap of the same cell (> 0: the strategy narrows the gap). Averaged over
the strategy's cells that have both domains (and a baseline, for the change).
JSON: {"strategies": [{"strategy","ratio","adverse_mean","clear_day","gap","gap_change_vs_baseline","n"}], "n"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, clean, register, seed_means

CELL = ["dataset", "model", "test_dataset", "loss"]


@register("domain_gap")
def domain_gap(ctx: Context, stages: list[str]) -> Result:
    study = stages[0]
    adverse = list(ctx.cfg.get("adverse_domains", ["foggy", "night", "rainy", "snowy"]))
    ref = str(ctx.cfg.get("reference_domain", "clear_day"))
    m = seed_means(ctx.df, study, domains=[*adverse, ref])
    if m.empty:
        t = pd.DataFrame(columns=["strategy", "ratio", "adverse_mean", ref, "gap", "gap_change_vs_baseline", "n"])
        res = Result("domain_gap", stages, clean({"strategies": [], "n": 0}), {"strategies": t})
        res.notes.append(f"no per-domain rows in stage {study}")
        return res
    piv = m.pivot_table(index=["label", "ratio", *CELL], columns="domain", values="mIoU", aggfunc="mean").reset_index()
    adv = [d for d in adverse if d in piv.columns]
    piv["adverse_mean"] = piv[adv].mean(axis=1) if adv else np.nan
    piv["clear"] = piv[ref] if ref in piv.columns else np.nan
    piv["gap"] = piv["adverse_mean"] - piv["clear"]
    base = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    b = piv[(piv["label"] == base) & np.isclose(piv["ratio"], 1.0)][[*CELL, "gap"]].rename(columns={"gap": "base_gap"})
    piv = piv.merge(b, on=CELL, how="left")
    piv["gap_change"] = piv["gap"] - piv["base_gap"]
    piv = piv[piv["gap"].notna()]
    t = piv.groupby(["label", "ratio"]).agg(adverse_mean=("adverse_mean", "mean"), clear_day=("clear", "mean"), gap=("gap", "mean"),
                                            gap_change_vs_baseline=("gap_change", "mean"), n=("gap", "size")).reset_index()
    t = t.rename(columns={"label": "strategy"}).sort_values("gap", ascending=False).reset_index(drop=True)
    res = Result("domain_gap", stages, clean({"strategies": t.to_dict("records"), "n": int(len(t)), "adverse_domains": adv, "reference_domain": ref}), {"strategies": t})
    if len(t):
        bars = pd.DataFrame({"label": t["strategy"], "ratio": t["ratio"], "gain": t["gap_change_vs_baseline"], "ci_low": np.nan, "ci_high": np.nan})
        res.figures.append(plots.gain_bars(bars, ctx.out_dir / "domain_gap" / "_".join(stages) / "gap_change.png", f"adverse - {ref} gap change vs baseline ({study})", intervals=False))
    return res
