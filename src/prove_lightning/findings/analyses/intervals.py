"""Bootstrap intervals for the analyses' gains: the leaderboard's paired bootstrap, applied to any difference.

Every seed-averaged side of a comparison keeps the store keys (run_id, step, test set, domain) of the runs it
averages (``seed_means(...)["keys"]``, from leaderboard._seed_mean). A difference A - B in a cell then has the
bootstrap samples ``boot.side(keys_A) - boot.side(keys_B)``: the same resampled test images for both sides
(paired), each side the mean over its seeds per resample. Any linear combination of sides works the same way
(synergy = combo - gen - std + baseline; a domain gap = mean of adverse domains - clear_day, all on one run).
A gain averaged over several cells gets the mean of the cells' sample vectors per resample (as
leaderboard.summarize does), so its interval combines the cells' bootstraps. Where any side lacks per-image
matrices (or no bootstrap was loaded) the samples are None and the interval NaN (null in JSON, n/a in
tables): never made up from other data.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from prove_lightning.findings.bootstrap import Bootstrap, significance

Samples = np.ndarray | None
NAN3 = (float("nan"), float("nan"), float("nan"))


def active(boot: Bootstrap | None) -> bool:
    """Whether there is anything to resample (no bootstrap, or none loaded: every interval is NaN)."""
    return boot is not None and bool(boot.samples)


def combine(boot: Bootstrap | None, terms: Sequence[tuple[float, Any]]) -> Samples:
    """Samples of sum(weight * side(keys)); None when a side has no keys (NaN from a merge) or no matrices."""
    if not active(boot):
        return None
    out = None
    for w, keys in terms:
        if not isinstance(keys, (list, tuple)) or not keys:
            return None
        s = boot.side(keys)
        if s is None:
            return None
        out = w * s if out is None else out + w * s
    return out


def diff(boot: Bootstrap | None, a: Any, b: Any) -> Samples:
    """Paired samples of side(a) - side(b)."""
    return combine(boot, [(1.0, a), (-1.0, b)])


def mean(samples: Iterable[Samples]) -> Samples:
    """Mean of several cells' sample vectors per resample; None if there are none or any is missing."""
    lst = list(samples)
    if not lst or any(s is None for s in lst):
        return None
    return np.mean(np.stack(lst), axis=0)


def stats(boot: Bootstrap | None, samples: Samples) -> tuple[float, float, float]:
    """(low, high, p), NaN without samples."""
    return NAN3 if boot is None or samples is None else boot.interval(samples)


def names(col: str) -> tuple[str, str, str, str]:
    """Column names of a gain column's interval: ci_low, ci_high, p, sig (prefixed by the column unless it is 'gain')."""
    pre = "" if col == "gain" else f"{col}_"
    return f"{pre}ci_low", f"{pre}ci_high", f"{pre}p", f"{pre}sig"


def add_columns(t: pd.DataFrame, col: str, samples: Sequence[Samples], boot: Bootstrap | None) -> pd.DataFrame:
    """Insert <col>_ci_low, <col>_ci_high, <col>_p, <col>_sig right after ``col`` (one samples entry per row)."""
    rows = [stats(boot, s) for s in samples] if len(t) else []
    lo = [r[0] for r in rows]
    hi = [r[1] for r in rows]
    p = [r[2] for r in rows]
    c_lo, c_hi, c_p, c_sig = names(col)
    pos = list(t.columns).index(col) + 1
    for i, (name, vals) in enumerate(((c_lo, lo), (c_hi, hi), (c_p, p), (c_sig, [significance(a, z) for a, z in zip(lo, hi)]))):
        t.insert(pos + i, name, pd.Series(vals, index=t.index, dtype=object if name == c_sig else float))
    return t


def average(values: pd.Series, samples: Sequence[Samples]) -> Samples:
    """Combined samples of the mean of ``values`` over its non-NaN entries (the rows ``_avg`` averages)."""
    ok = values.notna().to_numpy()
    return mean(s for s, k in zip(samples, ok) if k) if ok.any() else None


def grouped(t: pd.DataFrame, by: Sequence[str], col: str, samples: Sequence[Samples]) -> dict[Any, Samples]:
    """Per group of ``by``: combined samples of the mean of ``col`` over the group's non-NaN rows."""
    out: dict[Any, Samples] = {}
    if t.empty:
        return out
    s = pd.Series(list(samples), index=t.index, dtype=object)
    for key, idx in t.groupby(list(by), sort=False, dropna=False).groups.items():
        out[key] = average(t.loc[idx, col], s.loc[idx].tolist())
    return out


def summary(boot: Bootstrap | None, samples: Samples, key: str) -> dict[str, Any]:
    """JSON keys of an averaged gain's interval: ``<key>_ci`` ([low, high] or null) and ``<key>_p``."""
    lo, hi, p = stats(boot, samples)
    return {f"{key}_ci": None if lo != lo else [lo, hi], f"{key}_p": p}


def ci_text(lo: float, hi: float) -> str:
    return "n/a" if lo != lo else f"[{lo:+.2f}, {hi:+.2f}]"


def compact(t: pd.DataFrame) -> pd.DataFrame:
    """For reading (printed, Markdown, HTML): each gain's ci_low / ci_high pair as one '[low, high]' column
    ('n/a' without an interval) right after the gain; the CSV keeps the numeric columns."""
    out = t.copy()
    for col in list(t.columns):
        lo, hi, _, _ = names(str(col))
        if lo in out.columns and hi in out.columns:
            pos = list(out.columns).index(lo)
            text = [ci_text(float(a), float(z)) if a is not None and z is not None else "n/a" for a, z in zip(out[lo], out[hi])]
            out = out.drop(columns=[lo, hi])
            out.insert(pos, "95% CI" if col == "gain" else f"{col} 95% CI", text)
    return out
