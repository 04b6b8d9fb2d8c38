"""combination: generated images combined with a standard augmentation (gen x std), against the singles.

For each gen strategy (rows) x augmentation (columns), averaged over the matched cells (dataset, model, test
set; overall mIoU): the combination's gain vs the baseline, vs gen-only (same gen strategy in the reference
stage), vs std-only (the std_* strategy whose preset is that augmentation, reference stage), and the synergy
= combination - gen-only - std-only + baseline (> 0: the two help more together than their sum).
Intervals (intervals.py, paired bootstrap over test images): every entry is a linear combination of measured
runs in the same cells (synergy = combo - gen-only - std-only + baseline per resample), averaged over the
entry's cells per resample. Cells table: ``<measure>_ci_low``, ``_ci_high``, ``_p``, ``_sig``; table
``intervals``: one line per (strategy, augment, measure) with value, ci_low, ci_high, p, sig.
JSON: {"vs_baseline": {gen: {aug: v}}, "vs_gen": ..., "vs_std": ..., "synergy": ..., "n_cells": {gen: {aug: n}},
"vs_baseline_ci": {gen: {aug: [low, high] | null}}, "vs_baseline_p": {gen: {aug: p | null}}, and the same
``_ci`` / ``_p`` for vs_gen, vs_std, synergy}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
from prove_lightning.findings.analyses.base import Context, Result, baseline_of, clean, drop_keys, register, seed_means
from prove_lightning.findings.bootstrap import significance

CELL = ["dataset", "model", "test_dataset", "domain", "loss"]


@register("combination")
def combination(ctx: Context, stages: list[str]) -> Result:
    study, refs = stages[0], stages[1:]
    own = seed_means(ctx.df, study)
    combo = own[own["strategy"].str.startswith("gen_") & ~own["augment"].isin(["none", "nan", ""])]
    ref = seed_means(ctx.df, refs)
    base = baseline_of(ctx.df, stages, ctx.cfg)
    gen_only = ref[ref["strategy"].str.startswith("gen_") & (ref["label"] == ref["strategy"])][["strategy", *CELL, "mIoU", "keys"]].rename(columns={"mIoU": "gen_only", "keys": "gen_keys"})
    std_only = ref[ref["strategy"].str.startswith("std_")][["augment", *CELL, "mIoU", "keys"]].rename(columns={"mIoU": "std_only", "keys": "std_keys"})
    t = combo[["strategy", "augment", *CELL, "mIoU", "keys"]].merge(base, on=CELL, how="left")
    t = t.merge(gen_only.drop_duplicates(["strategy", *CELL]), on=["strategy", *CELL], how="left")
    t = t.merge(std_only.drop_duplicates(["augment", *CELL]), on=["augment", *CELL], how="left")
    t["vs_baseline"] = t["mIoU"] - t["baseline"]
    t["vs_gen"] = t["mIoU"] - t["gen_only"]
    t["vs_std"] = t["mIoU"] - t["std_only"]
    t["synergy"] = t["mIoU"] - t["gen_only"] - t["std_only"] + t["baseline"]
    rows = list(zip(t["keys"], t["baseline_keys"], t["gen_keys"], t["std_keys"])) if len(t) else []
    samples = {
        "vs_baseline": [iv.diff(ctx.boot, c, b) for c, b, _, _ in rows],
        "vs_gen": [iv.diff(ctx.boot, c, g) for c, _, g, _ in rows],
        "vs_std": [iv.diff(ctx.boot, c, x) for c, _, _, x in rows],
        "synergy": [iv.combine(ctx.boot, [(1.0, c), (-1.0, g), (-1.0, x), (1.0, b)]) for c, b, g, x in rows],
    }
    data: dict = {}
    res = Result("combination", stages, {}, {})
    lines = []
    out_dir = ctx.out_dir / "combination" / "_".join(stages)
    for col in ("vs_baseline", "vs_gen", "vs_std", "synergy"):
        m = t.pivot_table(index="strategy", columns="augment", values=col, aggfunc="mean") if len(t) else pd.DataFrame()
        data[col] = {g: {a: v for a, v in row.items()} for g, row in m.to_dict("index").items()}
        per = iv.grouped(t, ["strategy", "augment"], col, samples[col])
        st = {k: iv.stats(ctx.boot, v) for k, v in per.items()}
        data[f"{col}_ci"] = {g: {a: (None if (g, a) not in st or st[(g, a)][0] != st[(g, a)][0] else [st[(g, a)][0], st[(g, a)][1]]) for a in row} for g, row in data[col].items()}
        data[f"{col}_p"] = {g: {a: st.get((g, a), iv.NAN3)[2] for a in row} for g, row in data[col].items()}
        for (g, a), (lo, hi, p) in st.items():
            lines.append({"strategy": g, "augment": a, "measure": col, "value": data[col].get(g, {}).get(a, np.nan), "ci_low": lo, "ci_high": hi, "p": p, "sig": significance(lo, hi)})
        res.tables[f"matrix_{col}"] = m.reset_index() if len(m) else pd.DataFrame()
        if len(m) and np.isfinite(m.to_numpy(float)).any():
            lo = pd.DataFrame([[st.get((g, a), iv.NAN3)[0] for a in m.columns] for g in m.index], index=m.index, columns=m.columns)
            hi = pd.DataFrame([[st.get((g, a), iv.NAN3)[1] for a in m.columns] for g in m.index], index=m.index, columns=m.columns)
            res.figures.append(plots.matrix(m, out_dir / f"{col}.png", f"combination {col.replace('_', ' ')} (mIoU points, 95% interval below)", lo, hi))
    for col, smp in samples.items():
        iv.add_columns(t, col, smp, ctx.boot)
    res.tables = {"cells": drop_keys(t), **res.tables, "intervals": pd.DataFrame(lines)}
    n = t.pivot_table(index="strategy", columns="augment", values="mIoU", aggfunc="size") if len(t) else pd.DataFrame()
    data["n_cells"] = {g: {a: v for a, v in row.items()} for g, row in n.to_dict("index").items()}
    res.data = clean(data)
    if not len(t):
        res.notes.append(f"no gen+augment rows in stage {study}")
    return res
