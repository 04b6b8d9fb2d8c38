"""quality: do generative-quality metrics (FID, LPIPS, CLIP-FID, ...) predict the mIoU gain?

Input: ``--quality FILE``, a CSV from the quality pipeline with a ``strategy`` or ``method`` column (method
names may omit the ``gen_`` prefix; matched case-insensitively), an optional ``dataset`` column, then one
column per metric. Gains: each strategy's mean gain vs baseline over its matched cells (overall mIoU), per
dataset when the CSV has datasets. Per metric: Spearman rho with p over the (strategy[, dataset]) points,
and a scatter plot with method labels and a least-squares line.
rho is a rank correlation: its p-value is scipy's, no bootstrap. Each point's gain carries the leaderboard's
paired-bootstrap interval (mean of its cells' samples per resample: ci_low, ci_high, p, sig; null / n/a
without per-image matrices), drawn as vertical error bars.
JSON: {"metrics": [{"metric","spearman_rho","p_value","n"}], "points": [{"strategy","dataset"?,"gain","ci_low",
"ci_high","p","sig",metric...}], "n"}.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prove_lightning.errors import ConfigError
from prove_lightning.findings import plots
from prove_lightning.findings.analyses.base import Context, Result, clean, register, spearman
from prove_lightning.findings.leaderboard import matched_cells, summarize


def _norm(name: str) -> str:
    n = str(name).strip().replace("-", "_").lower()
    return n if n.startswith("gen_") else f"gen_{n}"


def read_quality(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--quality {p}: no such file; pass the quality pipeline's CSV (columns strategy or method, optional dataset, metrics)")
    q = pd.read_csv(p)
    col = "strategy" if "strategy" in q.columns else "method" if "method" in q.columns else None
    if col is None:
        raise ConfigError(f"--quality {p}: needs a 'strategy' or 'method' column; it has {list(q.columns)}")
    q = q.rename(columns={col: "strategy"})
    q["key"] = q["strategy"].map(_norm)
    return q


@register("quality")
def quality(ctx: Context, stages: list[str]) -> Result:
    study = stages[0]
    path = ctx.options.get("quality")
    if not path:
        res = Result("quality", stages, {"metrics": [], "points": [], "n": 0})
        res.notes.append("no quality CSV given (--quality FILE): nothing to correlate")
        return res
    q = read_quality(path)
    by_ds = "dataset" in q.columns
    metrics = [c for c in q.columns if c not in ("strategy", "key", "dataset") and pd.api.types.is_numeric_dtype(q[c])]
    s = summarize(matched_cells(ctx.df, study, ctx.cfg, ctx.boot, domains=["all"]), ["dataset"] if by_ds else (), ctx.boot)
    s = s[s["n_cells"] > 0].assign(key=lambda d: d["label"].map(_norm))
    on = ["key", "dataset"] if by_ds else ["key"]
    pts = q.merge(s[[*on, "label", "gain", "ci_low", "ci_high", "p", "sig"]], on=on)
    out = []
    res = Result("quality", stages, {})
    for mname in metrics:
        rho, p = spearman(pts[mname], pts["gain"])
        out.append({"metric": mname, "spearman_rho": rho, "p_value": p, "n": int(pts[[mname, "gain"]].dropna().shape[0])})
        if len(pts):
            res.figures.append(plots.scatter(pts[mname], pts["gain"], pts["label"], ctx.out_dir / "quality" / "_".join(stages) / f"quality_{mname}.png",
                                             f"{mname} vs gain ({study}): rho={rho:.2f}, p={p:.3g}", mname, "gain vs baseline (points)",
                                             yci=(pts["ci_low"], pts["ci_high"])))
    cols = ["label", *(["dataset"] if by_ds else []), "gain", "ci_low", "ci_high", "p", "sig", *metrics]
    pts = pts[cols].rename(columns={"label": "strategy"})
    res.data = clean({"metrics": out, "points": pts.to_dict("records"), "n": int(len(pts))})
    res.tables = {"correlations": pd.DataFrame(out), "points": pts}
    unmatched = sorted(set(q["strategy"]) - set(q.loc[q["key"].isin(set(s["key"])), "strategy"]))
    if unmatched:
        res.notes.append(f"quality rows without gains in {study}: {', '.join(map(str, unmatched))}")
    return res
