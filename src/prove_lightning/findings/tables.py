"""Leaderboard tables as text: printed (tabulate), written as CSV + Markdown, and drawn (bar chart)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prove_lightning.io import atomic_write_text

SHOW = ["rank", "label", "ratio", "family", "mIoU", "baseline", "gain", "ci", "p", "sig", "n_cells", "n_positive", "n_seeds"]


def display(t: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """The columns a reader wants, with the interval as one '[lo, hi]' string and n/a where there is none."""
    if t.empty:
        return t
    d = t.copy()
    d["ci"] = [("n/a" if np.isnan(lo) else f"[{lo:+.2f}, {hi:+.2f}]") for lo, hi in zip(d["ci_low"], d["ci_high"])]
    d["p"] = ["n/a" if np.isnan(p) else f"{p:.3f}" for p in d["p"]]
    d["gain"] = ["n/a" if np.isnan(g) else f"{g:+.2f}" for g in d["gain"]]
    for c in ("mIoU", "baseline"):
        d[c] = ["n/a" if np.isnan(v) else f"{v:.2f}" for v in d[c].astype(float)]
    d["ratio"] = [f"{v:g}" for v in d["ratio"].astype(float)]
    cols = [*by, *[c for c in SHOW if c in d.columns and c not in by]]
    return d[cols].rename(columns={"label": "strategy", "ci": "95% CI", "mIoU": "mean mIoU"})


def text(t: pd.DataFrame, by: tuple[str, ...] = ()) -> str:
    d = display(t, by)
    return d.to_markdown(index=False, tablefmt="simple", disable_numparse=True) if not d.empty else "(no rows)"


def markdown(t: pd.DataFrame, by: tuple[str, ...] = ()) -> str:
    d = display(t, by)
    return d.to_markdown(index=False, disable_numparse=True) + "\n" if not d.empty else "(no rows)\n"


def write(t: pd.DataFrame, out: Path, name: str, by: tuple[str, ...] = ()) -> list[Path]:
    csv, md = out / f"{name}.csv", out / f"{name}.md"
    atomic_write_text(csv, t.to_csv(index=False))
    atomic_write_text(md, markdown(t, by))
    return [csv, md]
