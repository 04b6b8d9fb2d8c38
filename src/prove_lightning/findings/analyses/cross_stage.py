"""cross_stage: are strategy rankings consistent between two stages (e.g. s1 and cg)?

Per strategy (label and ratio): its mean gain vs baseline in each stage over all its matched cells there
(overall mIoU; the stages' cells differ, e.g. datasets); Spearman rho over the strategies present in both.
rho is a rank correlation: its p-value is scipy's, no bootstrap. Each stage's gain carries the leaderboard's
interval (summarize: mean of the cells' paired-bootstrap samples per resample) as ``gain_a_ci_low``,
``gain_a_ci_high``, ``gain_a_p``, ``gain_a_sig`` (and the same for gain_b); n/a (null) without matrices.
JSON: {"strategies": [{"strategy","ratio","gain_a","gain_b","rank_a","rank_b","n_cells_a","n_cells_b",
+ the interval columns}], "spearman_rho", "p_value", "n", "stage_a", "stage_b"}.
"""

from __future__ import annotations

import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, clean, register, spearman
from prove_lightning.findings.leaderboard import matched_cells, summarize


def _gains(ctx: Context, stage: str):
    base = str(ctx.cfg.get("baseline", {}).get("strategy", "baseline"))
    s = summarize(matched_cells(ctx.df, stage, ctx.cfg, ctx.boot, domains=["all"]), (), ctx.boot)
    if s.empty:
        return s
    s = s[(s["label"] != base) & (s["n_cells"] > 0)]
    return s[["label", "ratio", "gain", "ci_low", "ci_high", "p", "sig", "n_cells"]].rename(columns={"ci_low": "gain_ci_low", "ci_high": "gain_ci_high", "p": "gain_p", "sig": "gain_sig"})


@register("cross_stage")
def cross_stage(ctx: Context, stages: list[str]) -> Result:
    a, b = stages[0], stages[1] if len(stages) > 1 else "cg"
    ga, gb = _gains(ctx, a), _gains(ctx, b)
    if len(ga) and len(gb):
        m = ga.merge(gb, on=["label", "ratio"], suffixes=("_a", "_b"))
        m = m.rename(columns={f"gain_{x}_{s}": f"gain_{s}_{x}" for x in ("ci_low", "ci_high", "p", "sig") for s in "ab"})
    else:
        m = pd.DataFrame(columns=["label", "ratio", "gain_a", "n_cells_a", "gain_b", "n_cells_b"])
    m = m.rename(columns={"label": "strategy"})
    m["rank_a"] = m["gain_a"].astype(float).rank(ascending=False)
    m["rank_b"] = m["gain_b"].astype(float).rank(ascending=False)
    rho, p = spearman(m["gain_a"], m["gain_b"])
    data = {"strategies": m.to_dict("records"), "spearman_rho": rho, "p_value": p, "n": int(len(m)), "stage_a": a, "stage_b": b}
    res = Result("cross_stage", [a, b], clean(data), {"strategies": m})
    if len(m):
        res.figures.append(plots.scatter(m["gain_a"], m["gain_b"], m["strategy"], ctx.out_dir / "cross_stage" / f"{a}_{b}" / "cross_stage.png",
                                         f"strategy gains, {a} vs {b} (rho={rho:.2f}; bars: 95% intervals)", f"gain, {a}", f"gain, {b}",
                                         xci=(m["gain_a_ci_low"], m["gain_a_ci_high"]), yci=(m["gain_b_ci_low"], m["gain_b_ci_high"])))
    else:
        res.notes.append(f"no strategy with matched cells in both {a} and {b}")
    return res
