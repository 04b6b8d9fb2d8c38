"""Figures of the findings (matplotlib, Agg backend: no display needed). Each returns the PNG path it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from prove_lightning.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path


def gain_bars(table: pd.DataFrame, path: Path, title: str, intervals: bool = True, xlabel: str = "gain vs baseline (mIoU points)") -> Path:
    """Horizontal bars of mean gain per strategy, 95 % bootstrap intervals as error bars where there are any."""
    plt = _plt()
    t = table.sort_values("gain", na_position="first")
    labels = [f"{lab}" + (f" @{r:g}" if r < 1 else "") for lab, r in zip(t["label"], t["ratio"])]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(t) + 1.4))
    gains = t["gain"].to_numpy(float)
    lo, hi = t["ci_low"].to_numpy(float), t["ci_high"].to_numpy(float)
    has = ~np.isnan(lo)
    err = np.vstack([np.where(has, gains - lo, 0), np.where(has, hi - gains, 0)])
    colors = ["tab:green" if g > 0 else "tab:red" for g in np.nan_to_num(gains)]
    ax.barh(labels, np.nan_to_num(gains), xerr=err if has.any() else None, color=colors, capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title + ("" if has.all() or not intervals else "\n(no interval: per-image matrices missing)" if not has.any() else "\n(some lines without interval)"), fontsize=9)
    return _save(fig, path)


def curves(series: dict[str, dict[float, float]], path: Path, title: str, xlabel: str, ylabel: str = "mIoU",
           bounds: dict[str, dict[float, tuple[float, float]]] | None = None) -> Path:
    """One line per name: x -> y points; ``bounds`` (name -> x -> (low, high)) adds error bars where finite."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, pts in series.items():
        xs = sorted(pts)
        ys = np.array([pts[x] for x in xs], float)
        b = (bounds or {}).get(name, {})
        lo = np.array([b.get(x, (np.nan, np.nan))[0] for x in xs], float)
        hi = np.array([b.get(x, (np.nan, np.nan))[1] for x in xs], float)
        has = np.isfinite(lo) & np.isfinite(hi)
        err = np.vstack([np.where(has, ys - lo, 0), np.where(has, hi - ys, 0)]) if has.any() else None
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if len(series) <= 20:
        ax.legend(fontsize=6)
    return _save(fig, path)


def matrix(values: pd.DataFrame, path: Path, title: str, low: pd.DataFrame | None = None, high: pd.DataFrame | None = None) -> Path:
    """Heat map of a small matrix (rows x columns) with its values written in, and under each value its 95 %
    interval where ``low`` / ``high`` (same shape) have one (a heat map has no room for error bars)."""
    plt = _plt()
    ci = low is not None and high is not None and np.isfinite(low.to_numpy(float)).any()
    fig, ax = plt.subplots(figsize=((2.0 if ci else 1.2) * values.shape[1] + 2.5, (0.8 if ci else 0.6) * values.shape[0] + 1.5))
    v = values.to_numpy(float)
    lim = np.nanmax(np.abs(v)) if np.isfinite(v).any() else 1.0
    im = ax.imshow(v, cmap="RdYlGn", vmin=-lim, vmax=lim)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in values.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(values.shape[0]), [str(i) for i in values.index], fontsize=8)
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            if np.isfinite(v[i, j]):
                txt = f"{v[i, j]:+.2f}"
                if ci and np.isfinite(float(low.iat[i, j])):
                    txt += f"\n[{float(low.iat[i, j]):+.2f}, {float(high.iat[i, j]):+.2f}]"
                ax.text(j, i, txt, ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _err(v: np.ndarray, b: tuple[Sequence[float], Sequence[float]] | None) -> np.ndarray | None:
    if b is None:
        return None
    lo, hi = np.asarray(b[0], float), np.asarray(b[1], float)
    has = np.isfinite(lo) & np.isfinite(hi)
    return np.vstack([np.where(has, v - lo, 0), np.where(has, hi - v, 0)]) if has.any() else None


def scatter(x: Sequence[float], y: Sequence[float], names: Sequence[str], path: Path, title: str, xlabel: str, ylabel: str,
            xci: tuple[Sequence[float], Sequence[float]] | None = None, yci: tuple[Sequence[float], Sequence[float]] | None = None) -> Path:
    """Labelled scatter with a least-squares line (when there are at least two distinct x); ``xci`` / ``yci``
    ((lows, highs)) add interval error bars where finite."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    xe, ye = _err(xa, xci), _err(ya, yci)
    if xe is not None or ye is not None:
        ax.errorbar(xa, ya, xerr=xe, yerr=ye, fmt="none", ecolor="gray", capsize=2, lw=0.8)
    ax.scatter(xa, ya)
    for xi, yi, n in zip(xa, ya, names):
        ax.annotate(str(n), (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ok = np.isfinite(xa) & np.isfinite(ya)
    if ok.sum() >= 2 and np.ptp(xa[ok]) > 0:
        k, b = np.polyfit(xa[ok], ya[ok], 1)
        xs = np.linspace(xa[ok].min(), xa[ok].max(), 10)
        ax.plot(xs, k * xs + b, color="tab:red", lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
