"""extended: longer training, from the rows of every tested checkpoint of an extended stage.

Per run (strategy x dataset x model x test set, overall mIoU): mIoU at each tested step; the base step is the
source stage's final step (``stage.extend_from``'s max_steps; its row comes from the source run when the
extended run did not test it); gain = final step - base step. The strategy-vs-baseline gap at every step uses
the extended stage's own baseline run at the same step. Convergence plot: mean mIoU per step per strategy.
JSON: {"runs": [{"strategy","dataset","model","test_dataset","steps": {step: mIoU},"base_step","final_step",
"gain"}], "gaps": [{"strategy","step","gap","n"}], "mean_gain": {strategy: gain}, "n"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, clean, register, seed_means
from prove_lightning.findings.config import stage_fields

KEY = ["label", "dataset", "model", "test_dataset"]


@register("extended")
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
    runs, rows = [], []
    for key, g in steps.groupby(KEY, sort=True):
        p = dict(sorted(zip(g["step"].astype(int), g["mIoU"].astype(float))))
        first = base_step if base_step in p else min(p)
        last = max(p)
        runs.append(dict(zip(["strategy", "dataset", "model", "test_dataset"], key)) | {"steps": {str(k): v for k, v in p.items()}, "base_step": first, "final_step": last, "gain": p[last] - p[first]})
        rows.append({**dict(zip(KEY, key)), "base_step": first, "final_step": last, "base_mIoU": p[first], "final_mIoU": p[last], "gain": p[last] - p[first]})
    base_name = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    b = steps[steps["label"] == base_name][["dataset", "model", "test_dataset", "step", "mIoU"]].rename(columns={"mIoU": "baseline"})
    gap = steps[steps["label"] != base_name].merge(b, on=["dataset", "model", "test_dataset", "step"])
    gap["gap"] = gap["mIoU"] - gap["baseline"]
    gaps = gap.groupby(["label", "step"])["gap"].agg(["mean", "size"]).reset_index().rename(columns={"label": "strategy", "mean": "gap", "size": "n"})
    table = pd.DataFrame(rows)
    data = {
        "runs": runs,
        "gaps": gaps.to_dict("records"),
        "mean_gain": table.groupby("label")["gain"].mean().to_dict() if len(table) else {},
        "n": len(runs),
    }
    res = Result("extended", stages, clean(data), {"runs": table, "gaps": gaps})
    if len(steps):
        conv = steps.groupby(["label", "step"])["mIoU"].mean()
        series = {lab: {float(k): float(v) for k, v in conv[lab].items()} for lab in conv.index.get_level_values(0).unique()}
        res.figures.append(plots.curves(series, ctx.out_dir / "extended" / "_".join(stages) / "convergence.png", f"mIoU per checkpoint ({study})", "step"))
    else:
        res.notes.append(f"no rows of stage {study}")
    return res
