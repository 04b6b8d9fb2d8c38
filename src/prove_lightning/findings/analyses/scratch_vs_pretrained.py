"""scratch_vs_pretrained: do strategies rank the same when the model trains from scratch?

Per strategy (label and ratio), gains vs baseline (overall mIoU) in the scratch stage and the pretrained stage,
each over the cells both stages hold for that strategy (same dataset, model, test set, loss); the baseline
itself is left out. Spearman rho (average ranks for ties) with its p; reversal = the gains have opposite signs
(a zero gain reverses nothing); rank change = pretrained rank - scratch rank; collapse ratio = mean scratch
gain / mean pretrained gain.
Intervals (intervals.py, paired bootstrap over test images): each strategy's scratch_gain and pretrained_gain
from the mean of its matched cells' gain samples per resample (``scratch_gain_ci_low``, ``_ci_high``, ``_p``,
``_sig``); mean_scratch_gain / mean_pretrained_gain from the mean of the strategies' samples (``<key>_ci``,
``<key>_p``). Spearman's rho keeps scipy's p-value (a rank correlation, not a gain: no bootstrap).
JSON: {"strategies": [{"strategy","ratio","scratch_gain","pretrained_gain","reversal","rank_scratch",
"rank_pretrained","rank_change","n_cells", + the interval columns}], "spearman_rho", "p_value", "reversals",
"n", "mean_scratch_gain", "mean_pretrained_gain", "collapse_ratio", "mean_scratch_gain_ci",
"mean_scratch_gain_p", "mean_pretrained_gain_ci", "mean_pretrained_gain_p"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
from prove_lightning.findings.analyses.base import Context, Result, clean, register, spearman
from prove_lightning.findings.leaderboard import matched_cells

CELL = ["dataset", "model", "test_dataset", "domain", "loss"]


def paired_gains(ctx: Context, a: str, b: str) -> tuple[pd.DataFrame, dict[str, list]]:
    """Per (label, ratio): mean gain in stage a and in stage b over the cells both hold; baseline left out.
    Also each line's combined bootstrap samples of gain_a and gain_b (None where matrices are missing)."""
    base = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    ca = matched_cells(ctx.df, a, ctx.cfg, ctx.boot, domains=["all"])
    cb = matched_cells(ctx.df, b, ctx.cfg, ctx.boot, domains=["all"])
    ca, cb = ca[ca["matched"] & (ca["label"] != base)], cb[cb["matched"] & (cb["label"] != base)]
    m = ca[["label", "ratio", *CELL, "gain", "boot"]].merge(cb[["label", "ratio", *CELL, "gain", "boot"]], on=["label", "ratio", *CELL], suffixes=("_a", "_b"))
    if m.empty:
        return pd.DataFrame(columns=["strategy", "ratio", "gain_a", "gain_b", "n_cells"]), {"gain_a": [], "gain_b": []}
    g = m.groupby(["label", "ratio"]).agg(gain_a=("gain_a", "mean"), gain_b=("gain_b", "mean"), n_cells=("gain_a", "size")).reset_index()
    samples = {}
    for col in ("gain_a", "gain_b"):
        per = iv.grouped(m, ["label", "ratio"], col, m[f"boot_{col[-1]}"].tolist())
        samples[col] = [per.get(k) for k in zip(g["label"], g["ratio"])]
    return g.rename(columns={"label": "strategy"}), samples


def reversal(a: float, b: float) -> bool:
    return bool(a * b < 0)


@register("scratch_vs_pretrained")
def scratch_vs_pretrained(ctx: Context, stages: list[str]) -> Result:
    scratch, pre = stages[0], stages[1] if len(stages) > 1 else "s1"
    g, smp = paired_gains(ctx, scratch, pre)
    g = g.rename(columns={"gain_a": "scratch_gain", "gain_b": "pretrained_gain"})
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
    data |= iv.summary(ctx.boot, iv.average(g["scratch_gain"], smp["gain_a"]), "mean_scratch_gain")
    data |= iv.summary(ctx.boot, iv.average(g["pretrained_gain"], smp["gain_b"]), "mean_pretrained_gain")
    iv.add_columns(g, "scratch_gain", smp["gain_a"], ctx.boot)
    iv.add_columns(g, "pretrained_gain", smp["gain_b"], ctx.boot)
    data["strategies"] = g.to_dict("records")
    res = Result("scratch_vs_pretrained", [scratch, pre], clean(data), {"strategies": g})
    if len(g):
        res.figures.append(plots.scatter(g["pretrained_gain"], g["scratch_gain"], g["strategy"], ctx.out_dir / "scratch_vs_pretrained" / f"{scratch}_{pre}" / "scratch_vs_pretrained.png",
                                         f"gain from scratch vs pretrained (rho={rho:.2f}, p={p:.3g}; bars: 95% intervals)", f"gain, {pre} (points)", f"gain, {scratch} (points)",
                                         xci=(g["pretrained_gain_ci_low"], g["pretrained_gain_ci_high"]), yci=(g["scratch_gain_ci_low"], g["scratch_gain_ci_high"])))
    else:
        res.notes.append(f"no strategy has matched cells in both {scratch} and {pre}")
    return res
