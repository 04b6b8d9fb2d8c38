"""scratch_vs_pretrained: do strategies rank the same when the model trains from scratch?

Per strategy (label and ratio), gains vs baseline (overall mIoU) in the scratch stage and the pretrained stage,
each over the cells both stages hold for that strategy (same dataset, model, test set, loss); the baseline
itself is left out. Spearman rho (average ranks for ties) with its p; reversal = the gains have opposite signs
(a zero gain reverses nothing); rank change = pretrained rank - scratch rank; collapse ratio = mean scratch
gain / mean pretrained gain.
JSON: {"strategies": [{"strategy","ratio","scratch_gain","pretrained_gain","reversal","rank_scratch",
"rank_pretrained","rank_change","n_cells"}], "spearman_rho", "p_value", "reversals", "n", "mean_scratch_gain",
"mean_pretrained_gain", "collapse_ratio"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, clean, register, spearman
from prove_lightning.findings.leaderboard import matched_cells

CELL = ["dataset", "model", "test_dataset", "domain", "loss"]


def paired_gains(ctx: Context, a: str, b: str) -> pd.DataFrame:
    """Per (label, ratio): mean gain in stage a and in stage b over the cells both hold; baseline left out."""
    base = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    ca = matched_cells(ctx.df, a, ctx.cfg, domains=["all"])
    cb = matched_cells(ctx.df, b, ctx.cfg, domains=["all"])
    ca, cb = ca[ca["matched"] & (ca["label"] != base)], cb[cb["matched"] & (cb["label"] != base)]
    m = ca[["label", "ratio", *CELL, "gain"]].merge(cb[["label", "ratio", *CELL, "gain"]], on=["label", "ratio", *CELL], suffixes=("_a", "_b"))
    if m.empty:
        return pd.DataFrame(columns=["strategy", "ratio", "gain_a", "gain_b", "n_cells"])
    g = m.groupby(["label", "ratio"]).agg(gain_a=("gain_a", "mean"), gain_b=("gain_b", "mean"), n_cells=("gain_a", "size")).reset_index()
    return g.rename(columns={"label": "strategy"})


def reversal(a: float, b: float) -> bool:
    return bool(a * b < 0)


@register("scratch_vs_pretrained")
def scratch_vs_pretrained(ctx: Context, stages: list[str]) -> Result:
    scratch, pre = stages[0], stages[1] if len(stages) > 1 else "s1"
    g = paired_gains(ctx, scratch, pre).rename(columns={"gain_a": "scratch_gain", "gain_b": "pretrained_gain"})
    g["reversal"] = [reversal(a, b) for a, b in zip(g["scratch_gain"], g["pretrained_gain"])]
    g["rank_scratch"] = g["scratch_gain"].rank(ascending=False, method="average")
    g["rank_pretrained"] = g["pretrained_gain"].rank(ascending=False, method="average")
    g["rank_change"] = g["rank_pretrained"] - g["rank_scratch"]
    rho, p = spearman(g["scratch_gain"], g["pretrained_gain"])
    ms, mp = (float(g["scratch_gain"].mean()), float(g["pretrained_gain"].mean())) if len(g) else (np.nan, np.nan)
    data = {
        "strategies": g.to_dict("records"),
        "spearman_rho": rho,
        "p_value": p,
        "reversals": int(g["reversal"].sum()),
        "n": int(len(g)),
        "mean_scratch_gain": ms,
        "mean_pretrained_gain": mp,
        "collapse_ratio": ms / mp if mp not in (0.0,) and np.isfinite(mp) else np.nan,
    }
    res = Result("scratch_vs_pretrained", [scratch, pre], clean(data), {"strategies": g})
    if len(g):
        res.figures.append(plots.scatter(g["pretrained_gain"], g["scratch_gain"], g["strategy"], ctx.out_dir / "scratch_vs_pretrained" / f"{scratch}_{pre}" / "scratch_vs_pretrained.png",
                                         f"gain from scratch vs pretrained (rho={rho:.2f}, p={p:.3g})", f"gain, {pre} (points)", f"gain, {scratch} (points)"))
    else:
        res.notes.append(f"no strategy has matched cells in both {scratch} and {pre}")
    return res
