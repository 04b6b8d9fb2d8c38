"""combination: generated images combined with a standard augmentation (gen x std), against the singles.

For each gen strategy (rows) x augmentation (columns), averaged over the matched cells (dataset, model, test
set; overall mIoU): the combination's gain vs the baseline, vs gen-only (same gen strategy in the reference
stage), vs std-only (the std_* strategy whose preset is that augmentation, reference stage), and the synergy
= combination - gen-only - std-only + baseline (> 0: the two help more together than their sum).
JSON: {"vs_baseline": {gen: {aug: v}}, "vs_gen": ..., "vs_std": ..., "synergy": ..., "n_cells": {gen: {aug: n}}}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, baseline_of, clean, register, seed_means

CELL = ["dataset", "model", "test_dataset", "domain", "loss"]


@register("combination")
def combination(ctx: Context, stages: list[str]) -> Result:
    study, refs = stages[0], stages[1:]
    own = seed_means(ctx.df, study)
    combo = own[own["strategy"].str.startswith("gen_") & ~own["augment"].isin(["none", "nan", ""])]
    ref = seed_means(ctx.df, refs)
    base = baseline_of(ctx.df, stages, ctx.cfg)
    gen_only = ref[ref["strategy"].str.startswith("gen_") & (ref["label"] == ref["strategy"])][["strategy", *CELL, "mIoU"]].rename(columns={"mIoU": "gen_only"})
    std_only = ref[ref["strategy"].str.startswith("std_")][["augment", *CELL, "mIoU"]].rename(columns={"mIoU": "std_only"})
    t = combo[["strategy", "augment", *CELL, "mIoU"]].merge(base, on=CELL, how="left")
    t = t.merge(gen_only.drop_duplicates(["strategy", *CELL]), on=["strategy", *CELL], how="left")
    t = t.merge(std_only.drop_duplicates(["augment", *CELL]), on=["augment", *CELL], how="left")
    t["vs_baseline"] = t["mIoU"] - t["baseline"]
    t["vs_gen"] = t["mIoU"] - t["gen_only"]
    t["vs_std"] = t["mIoU"] - t["std_only"]
    t["synergy"] = t["mIoU"] - t["gen_only"] - t["std_only"] + t["baseline"]
    data: dict = {}
    res = Result("combination", stages, {}, {"cells": t})
    for col in ("vs_baseline", "vs_gen", "vs_std", "synergy"):
        m = t.pivot_table(index="strategy", columns="augment", values=col, aggfunc="mean") if len(t) else pd.DataFrame()
        data[col] = {g: {a: v for a, v in row.items()} for g, row in m.to_dict("index").items()}
        res.tables[f"matrix_{col}"] = m.reset_index() if len(m) else pd.DataFrame()
        if len(m) and np.isfinite(m.to_numpy(float)).any():
            res.figures.append(plots.matrix(m, ctx.out_dir / "combination" / "_".join(stages) / f"{col}.png", f"combination {col.replace('_', ' ')} (mIoU points)"))
    n = t.pivot_table(index="strategy", columns="augment", values="mIoU", aggfunc="size") if len(t) else pd.DataFrame()
    data["n_cells"] = {g: {a: v for a, v in row.items()} for g, row in n.to_dict("index").items()}
    res.data = clean(data)
    if not len(t):
        res.notes.append(f"no gen+augment rows in stage {study}")
    return res
