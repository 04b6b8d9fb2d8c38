"""noise: the noise ablation (generated slots filled with noise) against the baseline and the real generators.

Per dataset x model x test set (overall mIoU): baseline, noise at ratio 0.5, noise at ratio 0.0, and
50 - baseline, 0 - baseline, 0 - 50; their averages and positive counts; and, for the same cells of the
reference stage, the average gain of gen_* strategies (the noise strategy left out) and of std_* strategies.
JSON: {"cells": [...], "avg_50_minus_baseline", "avg_0_minus_baseline", "avg_0_minus_50", "positive_50",
"positive_0", "positive_0_vs_50", "n", "gen_avg_gain", "std_avg_gain"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, baseline_of, clean, register, seed_means

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
    n50 = own[np.isclose(own["ratio"], 0.5)][[*CELL, "mIoU"]].rename(columns={"mIoU": "noise_50"})
    n0 = own[np.isclose(own["ratio"], 0.0)][[*CELL, "mIoU"]].rename(columns={"mIoU": "noise_0"})
    base = baseline_of(ctx.df, stages, ctx.cfg)
    t = base.merge(n50, on=CELL, how="outer").merge(n0, on=CELL, how="outer")
    t = t[t[["noise_50", "noise_0"]].notna().any(axis=1)]
    t["d50_minus_baseline"] = t["noise_50"] - t["baseline"]
    t["d0_minus_baseline"] = t["noise_0"] - t["baseline"]
    t["d0_minus_50"] = t["noise_0"] - t["noise_50"]
    ref = seed_means(ctx.df, refs or [study]).merge(base, on=CELL)
    ref["gain"] = ref["mIoU"] - ref["baseline"]
    gen = ref[ref["strategy"].str.startswith("gen_") & (ref["strategy"] != name)].groupby(CELL)["gain"].mean().rename("gen_avg_gain")
    std = ref[ref["strategy"].str.startswith("std_")].groupby(CELL)["gain"].mean().rename("std_avg_gain")
    t = t.merge(gen.reset_index(), on=CELL, how="left").merge(std.reset_index(), on=CELL, how="left")
    t = t.sort_values(CELL).reset_index(drop=True)
    data = {
        "cells": t.to_dict("records"),
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
    res = Result("noise", stages, clean(data), {"cells": t})
    if len(t):
        m = pd.DataFrame(
            {"noise 0.5": t["d50_minus_baseline"].to_numpy(), "noise 0.0": t["d0_minus_baseline"].to_numpy(), "gen avg": t["gen_avg_gain"].to_numpy(), "std avg": t["std_avg_gain"].to_numpy()},
            index=[f"{d} {m}" for d, m in zip(t["dataset"], t["model"])],
        )
        res.figures.append(plots.matrix(m, ctx.out_dir / "noise" / "_".join(stages) / "noise_vs_baseline.png", f"gain vs baseline (mIoU points), {study}"))
    else:
        res.notes.append(f"no {name} rows in stage {study}")
    return res
