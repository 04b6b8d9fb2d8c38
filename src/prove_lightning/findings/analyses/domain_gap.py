"""domain_gap: how much worse each strategy does on adverse weather than on clear days, and vs the baseline.

Per strategy (label, ratio) and cell (dataset, model, test set, loss): adverse mean = unweighted mean mIoU of
the adverse domains present (conf: adverse_domains), gap = adverse mean - reference domain (clear_day); the
gap change = strategy gap - baseline gap of the same cell (> 0: the strategy narrows the gap). Averaged over
the strategy's cells that have both domains (and a baseline, for the change).
Intervals (intervals.py, paired bootstrap over test images): a cell's gap is a combination of per-domain mIoU
of the same run(s) on the same resample (mean of the adverse domains' samples - clear_day's); its change is
strategy gap - baseline gap per resample (paired: the same images); a strategy's line averages its cells'
samples per resample. Columns ``gap_ci_low``, ``gap_ci_high``, ``gap_p``, ``gap_sig`` and the same for
``gap_change_vs_baseline``; null / n/a where a domain's per-image matrices are missing.
JSON: {"strategies": [{"strategy","ratio","adverse_mean","clear_day","gap","gap_change_vs_baseline","n",
+ the interval columns}], "n", "adverse_domains", "reference_domain"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
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
    piv["gap_boot"] = _gap_samples(ctx, m, piv, adv, ref)
    base = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    b = piv[(piv["label"] == base) & np.isclose(piv["ratio"], 1.0)][[*CELL, "gap", "gap_boot"]].rename(columns={"gap": "base_gap", "gap_boot": "base_boot"})
    piv = piv.merge(b, on=CELL, how="left")
    piv["gap_change"] = piv["gap"] - piv["base_gap"]
    piv = piv[piv["gap"].notna()]
    change = [None if a is None or not isinstance(z, np.ndarray) else a - z for a, z in zip(piv["gap_boot"], piv["base_boot"])]
    t = piv.groupby(["label", "ratio"]).agg(adverse_mean=("adverse_mean", "mean"), clear_day=("clear", "mean"), gap=("gap", "mean"),
                                            gap_change_vs_baseline=("gap_change", "mean"), n=("gap", "size")).reset_index()
    t = t.rename(columns={"label": "strategy"}).sort_values("gap", ascending=False).reset_index(drop=True)
    for col, src, smp in (("gap", "gap", piv["gap_boot"].tolist()), ("gap_change_vs_baseline", "gap_change", change)):
        per = iv.grouped(piv, ["label", "ratio"], src, smp)
        iv.add_columns(t, col, [per.get(k) for k in zip(t["strategy"], t["ratio"])], ctx.boot)
    res = Result("domain_gap", stages, clean({"strategies": t.to_dict("records"), "n": int(len(t)), "adverse_domains": adv, "reference_domain": ref}), {"strategies": t})
    if len(t):
        bars = pd.DataFrame({"label": t["strategy"], "ratio": t["ratio"], "gain": t["gap_change_vs_baseline"],
                             "ci_low": t["gap_change_vs_baseline_ci_low"], "ci_high": t["gap_change_vs_baseline_ci_high"]})
        res.figures.append(plots.gain_bars(bars, ctx.out_dir / "domain_gap" / "_".join(stages) / "gap_change.png",
                                           f"adverse - {ref} gap change vs baseline ({study}; 95% paired-bootstrap interval)", xlabel="gap change vs baseline (mIoU points)"))
    return res


def _gap_samples(ctx: Context, m: pd.DataFrame, piv: pd.DataFrame, adv: list[str], ref: str) -> list:
    """Per pivot row: samples of (mean of its present adverse domains) - reference domain, None without matrices."""
    if not iv.active(ctx.boot) or piv.empty:
        return [None] * len(piv)
    idx = ["label", "ratio", *CELL]
    kmap = dict(zip(m[[*idx, "domain"]].itertuples(index=False, name=None), m["keys"]))
    out = []
    for row, vals in zip(piv[idx].itertuples(index=False, name=None), piv[[*adv, ref]].itertuples(index=False, name=None) if ref in piv.columns else []):
        present = [d for d, v in zip(adv, vals[:-1]) if v == v]
        if not present or vals[-1] != vals[-1]:
            out.append(None)
            continue
        out.append(iv.combine(ctx.boot, [*((1.0 / len(present), kmap.get((*row, d))) for d in present), (-1.0, kmap.get((*row, ref)))]))
    return out + [None] * (len(piv) - len(out))
