"""ratio: mIoU against the real/generated ratio, one curve per strategy x dataset x model x test set.

Points: the ratio study's own rows (e.g. 0.0, 0.25, 0.75), the main stage's rows of the same strategy (0.5),
and the cell's baseline for 1.0 (real only). Spread = max - min of a curve; best ratio = the ratio of its
maximum; deviation from linear = mean |mIoU(r) - line through the curve's ratio-0 and ratio-1 points| over its
other points. Overall mIoU (domain ``all``).
The points are mIoU, not gains: the curves carry no interval. Each point below 1.0 also gets its gain vs the
curve's ratio-1.0 point (the baseline) with a paired-bootstrap interval (intervals.py: point samples -
baseline samples on the same resampled test images): table ``gains`` (strategy, dataset, model, test set,
ratio, gain, ci_low, ci_high, p, sig). Spread, best ratio and deviation from linear are shape statistics of a
curve (max / argmax / mean |.| over points): no bootstrap interval is given for them.
JSON: {"curves": [{"strategy","dataset","model","test_dataset","points": {ratio: mIoU},"spread","best_ratio",
"linear_deviation","gains": {ratio: gain},"gains_ci": {ratio: [low, high] | null},"gains_p": {ratio: p | null}}],
"mean_spread", "best_ratio_counts", "mean_linear_deviation", "n"}.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prove_lightning.findings import plots
from prove_lightning.findings.analyses import intervals as iv
from prove_lightning.findings.analyses.base import Context, Result, baseline_of, clean, register, seed_means
from prove_lightning.findings.bootstrap import significance

KEY = ["label", "dataset", "model", "test_dataset"]


@register("ratio")
def ratio(ctx: Context, stages: list[str]) -> Result:
    study, refs = stages[0], stages[1:]
    own = seed_means(ctx.df, study)
    labels = set(own["label"])
    main = seed_means(ctx.df, refs)
    main = main[main["label"].isin(labels) & (main["ratio"] < 1.0)]
    base = baseline_of(ctx.df, [study, *refs], ctx.cfg)
    pts = pd.concat([own, main], ignore_index=True)[[*KEY, "domain", "loss", "ratio", "mIoU", "keys"]]
    cells = own[KEY].drop_duplicates()  # curves of the ratio study's own cells only
    b = cells.merge(pts[[*KEY, "domain", "loss"]].drop_duplicates(), on=KEY).merge(base, on=["dataset", "model", "test_dataset", "domain", "loss"])
    b = b.rename(columns={"baseline": "mIoU", "baseline_keys": "keys"}).assign(ratio=1.0)
    pts = pd.concat([pts, b[pts.columns]], ignore_index=True).drop_duplicates([*KEY, "ratio"]).merge(cells, on=KEY)
    curves, rows, gains = [], [], []
    for key, g in pts.groupby(KEY, sort=True):
        p = dict(sorted(zip(g["ratio"].astype(float), g["mIoU"].astype(float))))
        if len(p) < 2:
            continue
        k = dict(zip(g["ratio"].astype(float), g["keys"]))
        gain = {r: (v - p[1.0], iv.stats(ctx.boot, iv.diff(ctx.boot, k[r], k[1.0]))) for r, v in p.items() if r != 1.0} if 1.0 in p else {}
        ys = np.array(list(p.values()))
        best = max(p, key=p.get)
        dev = np.nan
        if 0.0 in p and 1.0 in p and len(p) > 2:
            inner = [r for r in p if r not in (0.0, 1.0)]
            dev = float(np.mean([abs(p[r] - (p[0.0] + r * (p[1.0] - p[0.0]))) for r in inner]))
        c = dict(zip(["strategy", "dataset", "model", "test_dataset"], key)) | {
            "points": {f"{r:g}": v for r, v in p.items()}, "spread": float(ys.max() - ys.min()), "best_ratio": best, "linear_deviation": dev,
            "gains": {f"{r:g}": gv for r, (gv, _) in gain.items()}, "gains_ci": {f"{r:g}": (None if st[0] != st[0] else [st[0], st[1]]) for r, (_, st) in gain.items()},
            "gains_p": {f"{r:g}": st[2] for r, (_, st) in gain.items()},
        }
        gains += [{**dict(zip(["strategy", "dataset", "model", "test_dataset"], key)), "ratio": r, "gain": gv, "ci_low": st[0], "ci_high": st[1], "p": st[2],
                   "sig": significance(st[0], st[1])} for r, (gv, st) in gain.items()]
        curves.append(c)
        rows.append({**{k: c[k] for k in ("strategy", "dataset", "model", "test_dataset")}, **{f"r{r:g}": v for r, v in p.items()}, "spread": c["spread"], "best_ratio": best, "linear_deviation": dev})
    table = pd.DataFrame(rows)
    best_counts = {f"{k:g}": int(v) for k, v in pd.Series([c["best_ratio"] for c in curves]).value_counts().sort_index().items()} if curves else {}
    data = {
        "curves": curves,
        "mean_spread": float(np.mean([c["spread"] for c in curves])) if curves else np.nan,
        "best_ratio_counts": best_counts,
        "mean_linear_deviation": float(np.nanmean([c["linear_deviation"] for c in curves])) if any(np.isfinite(c["linear_deviation"]) for c in curves) else np.nan,
        "n": len(curves),
    }
    res = Result("ratio", stages, clean(data), {"curves": table, "gains": pd.DataFrame(gains)})
    if curves:
        series = {f"{c['strategy']} {c['dataset']} {c['model']} {c['test_dataset']}": {float(r): v for r, v in c["points"].items()} for c in curves}
        res.figures.append(plots.curves(series, ctx.out_dir / "ratio" / "_".join(stages) / "ratio_curves.png", f"mIoU vs ratio ({study})", "real/generated ratio (1.0 = real only)"))
    else:
        res.notes.append(f"no ratio curves: stage {study} has no rows (or none with a second point)")
    return res
