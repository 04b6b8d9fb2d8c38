"""extended: longer training, from the rows of every tested checkpoint of an extended stage.

Per run (strategy x dataset x model x test set, overall mIoU): mIoU at each tested step; the base step is the
source stage's final step (``stage.extend_from``'s max_steps; its row comes from the source run when the
extended run did not test it); gain = final step - base step. The strategy-vs-baseline gap at every step uses
the extended stage's own baseline run at the same step. Convergence plot: mean mIoU per step per strategy. Runs tested at a single checkpoint are left out (with none
left the analysis is empty, and the report skips it).
Intervals (intervals.py, paired bootstrap over test images; every tested step of the stage and of its source
is bootstrapped): a run's gain = final-step samples - base-step samples (the same test images, so paired); a
gap = strategy - baseline at that step per resample, averaged over the step's cells per resample; a
strategy's mean gain = mean of its runs' samples. Table columns ``gain_ci_low``/``_ci_high``/``p``/``sig``
(runs) and ``gap_ci_low``, ``gap_ci_high``, ``gap_p``, ``gap_sig`` (gaps); the gap figure has error bars.
JSON: {"runs": [{"strategy","dataset","model","test_dataset","steps": {step: mIoU},"base_step","final_step",
"gain","gain_ci","gain_p"}], "gaps": [{"strategy","step","gap","n","gap_ci_low","gap_ci_high","gap_p",
"gap_sig"}], "mean_gain": {strategy: gain}, "mean_gain_ci": {strategy: [low, high] | null},
"mean_gain_p": {strategy: p | null}, "n"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
from prove_lightning.findings.analyses.base import Context, Result, clean, register, seed_means
from prove_lightning.findings.config import stage_fields

KEY = ["label", "dataset", "model", "test_dataset"]


def _needs(stages: list[str]) -> tuple[list[str], bool]:
    """Every tested step of the stage, and its source stage (whose final step is the base step)."""
    src = stage_fields(stages[0]).get("extend_from")
    return [*stages, *([str(src)] if src else [])], True


@register("extended", needs=_needs)
def extended(ctx: Context, stages: list[str]) -> Result:
    study = stages[0]
    fields = stage_fields(study)
    src = fields.get("extend_from")
    base_step = int(stage_fields(str(src)).get("max_steps", 0)) if src else None
    steps = seed_means(ctx.df, study, final=False)
    if src and base_step:
        s = seed_means(ctx.df, str(src), final=False)
        s = s[s["step"] == base_step].merge(steps[KEY].drop_duplicates(), on=KEY)  # the extended runs' sources only
        known = set(map(tuple, steps[[*KEY, "step"]].values.tolist()))
        s = s[[tuple(r) not in known for r in s[[*KEY, "step"]].values.tolist()]]
        steps = pd.concat([steps, s.assign(stage=study)], ignore_index=True)
    n_steps = steps.groupby(KEY)["step"].transform("nunique")
    single = int((n_steps < 2).sum())
    steps = steps[n_steps >= 2]  # a run tested at one checkpoint only has no course to analyse (e.g. a plain stage)
    runs, rows, run_boot = [], [], []
    for key, g in steps.groupby(KEY, sort=True):
        p = dict(sorted(zip(g["step"].astype(int), g["mIoU"].astype(float))))
        k = dict(zip(g["step"].astype(int), g["keys"]))
        first = base_step if base_step in p else min(p)
        last = max(p)
        smp = iv.diff(ctx.boot, k[last], k[first])  # one tested step only: the same test twice, exactly 0
        lo, hi, pv = iv.stats(ctx.boot, smp)
        run_boot.append(smp)
        runs.append(dict(zip(["strategy", "dataset", "model", "test_dataset"], key)) | {"steps": {str(s): v for s, v in p.items()}, "base_step": first, "final_step": last,
                                                                                       "gain": p[last] - p[first], "gain_ci": None if lo != lo else [lo, hi], "gain_p": pv})
        rows.append({**dict(zip(KEY, key)), "base_step": first, "final_step": last, "base_mIoU": p[first], "final_mIoU": p[last], "gain": p[last] - p[first]})
    base_name = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    b = steps[steps["label"] == base_name][["dataset", "model", "test_dataset", "step", "mIoU", "keys"]].rename(columns={"mIoU": "baseline", "keys": "baseline_keys"})
    gap = steps[steps["label"] != base_name].merge(b, on=["dataset", "model", "test_dataset", "step"])
    gap["gap"] = gap["mIoU"] - gap["baseline"]
    gaps = gap.groupby(["label", "step"])["gap"].agg(["mean", "size"]).reset_index().rename(columns={"label": "strategy", "mean": "gap", "size": "n"})
    per = iv.grouped(gap, ["label", "step"], "gap", [iv.diff(ctx.boot, a, z) for a, z in zip(gap["keys"], gap["baseline_keys"])])
    gap_boot = [per.get(k) for k in zip(gaps["strategy"], gaps["step"])]
    iv.add_columns(gaps, "gap", gap_boot, ctx.boot)
    table = pd.DataFrame(rows)
    if len(table):
        iv.add_columns(table, "gain", run_boot, ctx.boot)
    mean_boot = iv.grouped(table, ["label"], "gain", run_boot) if len(table) else {}
    mean_st = {lab: iv.stats(ctx.boot, v) for lab, v in mean_boot.items()}
    data = {
        "runs": runs,
        "gaps": gaps.to_dict("records"),
        "mean_gain": table.groupby("label")["gain"].mean().to_dict() if len(table) else {},
        "mean_gain_ci": {lab: (None if st[0] != st[0] else [st[0], st[1]]) for lab, st in mean_st.items()},
        "mean_gain_p": {lab: st[2] for lab, st in mean_st.items()},
        "n": len(runs),
    }
    res = Result("extended", stages, clean(data), {"runs": table, "gaps": gaps})
    if len(steps):
        out_dir = ctx.out_dir / "extended" / "_".join(stages)
        conv = steps.groupby(["label", "step"])["mIoU"].mean()
        series = {lab: {float(k): float(v) for k, v in conv[lab].items()} for lab in conv.index.get_level_values(0).unique()}
        res.figures.append(plots.curves(series, out_dir / "convergence.png", f"mIoU per checkpoint ({study})", "step"))
        if len(gaps):
            gs = {lab: {float(s): float(v) for s, v in zip(g["step"], g["gap"])} for lab, g in gaps.groupby("strategy")}
            gb = {lab: {float(s): (lo, hi) for s, lo, hi in zip(g["step"], g["gap_ci_low"], g["gap_ci_high"])} for lab, g in gaps.groupby("strategy")}
            res.figures.append(plots.curves(gs, out_dir / "gap_per_step.png", f"gap vs baseline per checkpoint ({study}; 95% paired-bootstrap interval)", "step",
                                            "gap vs baseline (mIoU points)", gb))
    else:
        res.notes.append(f"no run of stage {study} has more than one tested checkpoint" if single else f"no rows of stage {study}")
    return res
