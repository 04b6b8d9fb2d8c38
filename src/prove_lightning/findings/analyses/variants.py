"""batch_size and loss: each variant of a setting against the standard setting, per strategy.

A variant row (a batch size, a loss) is compared with the same strategy, ratio and cell (dataset, model, test
set; overall mIoU) trained with the standard setting: the reference stage's run (s1), or the study stage's own
run with the standard value where it has one. batch_size: the batch is the row's ``batch_size`` column, else
the run directory's ``_bs<N>`` suffix; the standard row is the reference stage's. loss: the standard loss is
``analyses.loss.standard`` (ce).
Intervals (intervals.py, paired bootstrap over test images): a cell's gain = variant samples - standard
samples (same test images); a line (strategy, ratio, variant) averages its cells' samples per resample.
Columns ``ci_low``, ``ci_high``, ``p``, ``sig`` (as the leaderboard's); null / n/a without matrices.
JSON: {"variants": [{"strategy","ratio","batch_size" | "loss","gain","n","ci_low","ci_high","p","sig"}], "n"}.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
from prove_lightning.findings.analyses.base import Context, Result, clean, drop_keys, register, seed_means
from prove_lightning.findings.leaderboard import _seed_mean
from prove_lightning.findings.rows import final_rows

CELL = ["label", "ratio", "dataset", "model", "test_dataset"]


def _batch(df: pd.DataFrame) -> pd.Series:
    from_id = df["run_id"].map(lambda r: (m := re.search(r"_bs(\d+)", str(r))) and int(m.group(1)))
    if "batch_size" in df.columns:
        return pd.to_numeric(df["batch_size"], errors="coerce").fillna(pd.to_numeric(from_id, errors="coerce"))
    return pd.to_numeric(from_id, errors="coerce")


def _finish(name: str, var: str, stages: list[str], ctx: Context, t: pd.DataFrame) -> Result:
    g = t.groupby(["label", "ratio", var]).agg(gain=("gain", "mean"), n=("gain", "size")).reset_index().rename(columns={"label": "strategy"}) if len(t) else pd.DataFrame(columns=["strategy", "ratio", var, "gain", "n"])
    cell_boot = [iv.diff(ctx.boot, a, z) for a, z in zip(t["keys"], t["standard_keys"])] if len(t) else []
    per = iv.grouped(t, ["label", "ratio", var], "gain", cell_boot)
    iv.add_columns(g, "gain", [per.get(k) for k in zip(g["strategy"], g["ratio"], g[var])], ctx.boot)
    t = drop_keys(t)
    if len(t):
        iv.add_columns(t, "gain", cell_boot, ctx.boot)
    res = Result(name, stages, clean({"variants": g.to_dict("records"), "n": int(len(g))}), {"variants": g, "cells": t})
    if len(g):
        m = g.pivot_table(index="strategy", columns=var, values="gain", aggfunc="mean")
        lo = g.pivot_table(index="strategy", columns=var, values="ci_low", aggfunc="mean", dropna=False).reindex(index=m.index, columns=m.columns)
        hi = g.pivot_table(index="strategy", columns=var, values="ci_high", aggfunc="mean", dropna=False).reindex(index=m.index, columns=m.columns)
        res.figures.append(plots.matrix(m, ctx.out_dir / name / "_".join(stages) / f"{name}_gain.png", f"gain vs standard setting, per {var} (mIoU points, 95% interval below)", lo, hi))
    else:
        res.notes.append(f"no {var} variants with a standard counterpart in {', '.join(stages)}")
    return res


@register("batch_size")
def batch_size(ctx: Context, stages: list[str]) -> Result:
    study, refs = stages[0], stages[1:]
    d = final_rows(ctx.df[ctx.df["stage"] == study])
    d = d[d["domain"] == "all"].assign(batch_size=lambda x: _batch(x))
    own = _seed_mean(d, [*CELL, "loss", "batch_size"])[[*CELL, "loss", "batch_size", "mIoU", "keys"]]
    std = seed_means(ctx.df, refs)[[*CELL, "loss", "mIoU", "keys"]].rename(columns={"mIoU": "standard", "keys": "standard_keys"}).drop_duplicates([*CELL, "loss"])
    t = own.merge(std, on=[*CELL, "loss"])
    t["gain"] = t["mIoU"] - t["standard"]
    return _finish("batch_size", "batch_size", stages, ctx, t)


@register("loss")
def loss(ctx: Context, stages: list[str]) -> Result:
    standard = str(ctx.cfg.get("analyses", {}).get("loss", {}).get("standard", "ce"))
    own = seed_means(ctx.df, stages[0])
    ref = seed_means(ctx.df, stages)
    ref = ref[ref["loss"] == standard]
    order = {s: i for i, s in enumerate(stages)}
    ref = ref.assign(_o=ref["stage"].map(order)).sort_values("_o").drop_duplicates(CELL)[[*CELL, "mIoU", "keys"]].rename(columns={"mIoU": "standard", "keys": "standard_keys"})
    t = own[own["loss"] != standard][[*CELL, "loss", "mIoU", "keys"]].merge(ref, on=CELL)
    t["gain"] = t["mIoU"] - t["standard"]
    return _finish("loss", "loss", stages, ctx, t)
