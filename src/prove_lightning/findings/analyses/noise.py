"""noise: the noise ablation (generated slots filled with noise) against the baseline and the real generators.

Per dataset x model x test set (overall mIoU): baseline, noise at ratio 0.5, noise at ratio 0.0, and
50 - baseline, 0 - baseline, 0 - 50; their averages and positive counts; and, for the same cells of the
reference stage, the average gain of gen_* strategies (the noise strategy left out) and of std_* strategies.
JSON: {"cells": [...], "avg_50_minus_baseline", "avg_0_minus_baseline", "avg_0_minus_50", "positive_50",
"positive_0", "positive_0_vs_50", "n", "gen_avg_gain", "std_avg_gain"}, plus the intervals (intervals.py:
paired bootstrap over test images): each cell's d50_minus_baseline, d0_minus_baseline, d0_minus_50,
gen_avg_gain and std_avg_gain with ``<col>_ci_low``, ``<col>_ci_high``, ``<col>_p``, ``<col>_sig`` ('' =
the interval excludes 0, ns, n/a); each average ``<key>_ci`` ([low, high] or null) and ``<key>_p``, from the
mean of its cells' samples per resample (gen/std averages: mean over the cell's strategies, then cells).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
from prove_lightning.findings.analyses.base import Context, Result, baseline_of, clean, drop_keys, register, seed_means

CELL = ["dataset", "model", "test_dataset", "domain", "loss"]


def _avg(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.mean()) if len(s) else float("nan")


@register("noise")
def noise(ctx: Context, stages: list[str]) -> Result:
    study, refs = stages[0], stages[1:]
    name = str(ctx.cfg.get("analyses", {}).get("noise", {}).get("strategy", "gen_random_noise"))
    own = seed_means(ctx.df, study)
    own = own[own["strategy"] == name]
    n50 = own[np.isclose(own["ratio"], 0.5)][[*CELL, "mIoU", "keys"]].rename(columns={"mIoU": "noise_50", "keys": "noise_50_keys"})
    n0 = own[np.isclose(own["ratio"], 0.0)][[*CELL, "mIoU", "keys"]].rename(columns={"mIoU": "noise_0", "keys": "noise_0_keys"})
    base = baseline_of(ctx.df, stages, ctx.cfg)
    t = base.merge(n50, on=CELL, how="outer").merge(n0, on=CELL, how="outer")
    t = t[t[["noise_50", "noise_0"]].notna().any(axis=1)]
    t["d50_minus_baseline"] = t["noise_50"] - t["baseline"]
    t["d0_minus_baseline"] = t["noise_0"] - t["baseline"]
    t["d0_minus_50"] = t["noise_0"] - t["noise_50"]
    ref = seed_means(ctx.df, refs or [study]).merge(base, on=CELL)
    ref["gain"] = ref["mIoU"] - ref["baseline"]
    ref["boot"] = [iv.diff(ctx.boot, a, b) for a, b in zip(ref["keys"], ref["baseline_keys"])]
    t = t.sort_values(CELL).reset_index(drop=True)
    samples: dict[str, list] = {
        "d50_minus_baseline": [iv.diff(ctx.boot, a, b) for a, b in zip(t["noise_50_keys"], t["baseline_keys"])],
        "d0_minus_baseline": [iv.diff(ctx.boot, a, b) for a, b in zip(t["noise_0_keys"], t["baseline_keys"])],
        "d0_minus_50": [iv.diff(ctx.boot, a, b) for a, b in zip(t["noise_0_keys"], t["noise_50_keys"])],
    }
    for col, mask in (("gen_avg_gain", ref["strategy"].str.startswith("gen_") & (ref["strategy"] != name)), ("std_avg_gain", ref["strategy"].str.startswith("std_"))):
        r = ref[mask]
        avg = r.groupby(CELL)["gain"].mean().rename(col).reset_index()
        boots = iv.grouped(r, CELL, "gain", r["boot"].tolist())
        t = t.merge(avg, on=CELL, how="left")
        samples[col] = [boots.get(tuple(k)) for k in t[CELL].itertuples(index=False)]
    for col, smp in samples.items():
        iv.add_columns(t, col, smp, ctx.boot)
    out = drop_keys(t)
    data = {
        "cells": out.to_dict("records"),
        "avg_50_minus_baseline": _avg(t["d50_minus_baseline"]),
        "avg_0_minus_baseline": _avg(t["d0_minus_baseline"]),
        "avg_0_minus_50": _avg(t["d0_minus_50"]),
        "positive_50": int((t["d50_minus_baseline"] > 0).sum()),
        "positive_0": int((t["d0_minus_baseline"] > 0).sum()),
        "positive_0_vs_50": int((t["d0_minus_50"] > 0).sum()),
        "n": int(len(t)),
        "gen_avg_gain": _avg(t["gen_avg_gain"]),
        "std_avg_gain": _avg(t["std_avg_gain"]),
    }
    avgs = {"avg_50_minus_baseline": "d50_minus_baseline", "avg_0_minus_baseline": "d0_minus_baseline", "avg_0_minus_50": "d0_minus_50",
            "gen_avg_gain": "gen_avg_gain", "std_avg_gain": "std_avg_gain"}
    combined = {key: iv.average(t[col], samples[col]) for key, col in avgs.items()}
    for key, smp in combined.items():
        data |= iv.summary(ctx.boot, smp, key)
    t = out
    res = Result("noise", stages, clean(data), {"cells": t})
    if len(t):
        m = pd.DataFrame(
            {"noise 0.5": t["d50_minus_baseline"].to_numpy(), "noise 0.0": t["d0_minus_baseline"].to_numpy(), "gen avg": t["gen_avg_gain"].to_numpy(), "std avg": t["std_avg_gain"].to_numpy()},
            index=[f"{d} {m}" for d, m in zip(t["dataset"], t["model"])],
        )
        lo = pd.DataFrame({k: t[f"{c}_ci_low"].to_numpy() for k, c in zip(m.columns, ("d50_minus_baseline", "d0_minus_baseline", "gen_avg_gain", "std_avg_gain"))}, index=m.index)
        hi = pd.DataFrame({k: t[f"{c}_ci_high"].to_numpy() for k, c in zip(m.columns, ("d50_minus_baseline", "d0_minus_baseline", "gen_avg_gain", "std_avg_gain"))}, index=m.index)
        out_dir = ctx.out_dir / "noise" / "_".join(stages)
        res.figures.append(plots.matrix(m, out_dir / "noise_vs_baseline.png", f"gain vs baseline (mIoU points, 95% interval below), {study}", lo, hi))
        bars = pd.DataFrame([{"label": lab, "ratio": 1.0, "gain": data[key], "ci_low": (data[f"{key}_ci"] or [np.nan])[0], "ci_high": (data[f"{key}_ci"] or [np.nan, np.nan])[1]}
                             for key, lab in (("avg_50_minus_baseline", "noise 0.5 - baseline"), ("avg_0_minus_baseline", "noise 0.0 - baseline"),
                                              ("avg_0_minus_50", "noise 0.0 - noise 0.5"), ("gen_avg_gain", "gen_* avg - baseline"), ("std_avg_gain", "std_* avg - baseline"))])
        bars = bars[bars["gain"].notna()]
        res.figures.append(plots.gain_bars(bars, out_dir / "noise_averages.png", f"noise: average differences over {len(t)} cells (95% paired-bootstrap interval), {study}",
                                           xlabel="difference (mIoU points)"))
    else:
        res.notes.append(f"no {name} rows in stage {study}")
    return res
