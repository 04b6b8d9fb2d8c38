"""Paired bootstrap over test images: intervals and p-values for mIoU gains, from per-image confusion matrices.

Method (also in the README, "Findings"): for one test set, the images of each domain are resampled with
replacement, keeping the domain's size (a stratified bootstrap: the test set's domain mix is part of its
design). Resample r draws the SAME images for every run tested on that image list (the draw is seeded by the
seed and a hash of the image ids), so a strategy and its baseline are compared on identical resamples. For
each resample, each run's dataset-level mIoU is recomputed from the summed confusion matrices (per-domain rows
from that domain's images, ``all`` from every image), never averaged over images. A cell's gain distribution is
strategy minus baseline per resample; with several seeds, each side is the mean over its seeds per resample. A
gain over several cells (a leaderboard line) is the mean of the cells' gains per resample, so cells that share
test images stay correlated and the interval reflects test-image noise of every cell, not the spread of means.
Interval: percentile (2.5 %, 97.5 % for level 0.95; order statistics). p-value: two-sided, 2 * min(P*(gain <= 0),
P*(gain >= 0)) floored at 1/R and capped at 1: the smallest level whose percentile interval excludes 0, so p and
the interval always agree. Seed-to-seed variance is reported apart (std over seeds).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from prove_lightning.evaluation.per_image import read_per_image

Key = tuple[str, int, str, str]  # run_id, step, test_dataset, domain


def miou_from_sums(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray, convention: str = "union") -> np.ndarray:
    """mIoU (percent) over the last axis (classes) of summed per-class counts; NaN where no class counts."""
    union = gt + pred - tp
    counted = union > 0 if convention == "union" else gt > 0
    iou = tp / np.maximum(union, 1)  # 0 where union is 0 (tp is 0 there)
    if convention != "union":
        iou = iou * counted
    n = counted.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, 100.0 * iou.sum(-1) / n, np.nan)


def _seed_of(seed: int, ids: Iterable[str]) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32("\n".join(ids).encode())) % (2**32)


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """(R, n) counts of each image in each resample (multinomial: n draws with replacement)."""
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros((resamples, 0))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def npz_path(row: pd.Series | dict, output_root: Path | None) -> list[Path]:
    """Where a row's per-image matrices may be: its recorded run_dir, then output_root/run_id."""
    name = Path("test") / f"step_{int(row['step'])}" / f"{row['test_dataset']}.npz"
    out = []
    rd = row.get("run_dir")
    if isinstance(rd, str) and rd:
        out.append(Path(rd) / name)
    if output_root is not None:
        out.append(Path(output_root) / str(row["run_id"]) / name)
    return out


@dataclass
class Bootstrap:
    """Resampled mIoU of every (run, step, test set, domain) whose test kept per-image matrices."""

    resamples: int = 1000
    seed: int = 0
    level: float = 0.95
    samples: dict[Key, np.ndarray] = field(default_factory=dict)
    missing: set[tuple[str, int, str]] = field(default_factory=set)

    def add_tests(self, rows: pd.DataFrame, output_root: str | Path | None) -> None:
        """Load each distinct test of ``rows`` (run_id, step, test_dataset) and bootstrap it, grouped by image list."""
        root = Path(output_root) if output_root is not None else None
        tests = rows.drop_duplicates(["run_id", "step", "test_dataset"])
        groups: dict[int, list[tuple[tuple[str, int, str], dict, str]]] = {}
        for row in tests.to_dict("records"):
            key = (str(row["run_id"]), int(row["step"]), str(row["test_dataset"]))
            if (*key, "all") in self.samples or key in self.missing:
                continue
            data = None
            for p in npz_path(row, root):
                data = read_per_image(p)
                if data is not None:
                    break
            if data is None:
                self.missing.add(key)
                continue
            order = np.argsort(data["ids"], kind="stable")
            data = {k: (data[k][order] if k != "classes" else data[k]) for k in data}
            conv = str(row.get("miou_convention") or "union")
            conv = conv if conv in ("union", "gt_present") else "union"
            groups.setdefault(zlib.crc32("\n".join(data["ids"]).encode()), []).append((key, data, conv))
        for members in groups.values():
            self._bootstrap_group(members)

    def _bootstrap_group(self, members: list[tuple[tuple[str, int, str], dict, str]]) -> None:
        """Every run of one image list: one matmul per domain (weights x per-image counts of all runs)."""
        first = members[0][1]
        domains = first["domains"]
        # per image: tp, gt, pred per class of every run -> (n, runs, 3, C)
        # float32 BLAS: a count's relative rounding (< 1e-7) is far below any interval's width; 3x faster than float64
        feats = np.stack([np.stack([np.einsum("nii->ni", d["cm"]), d["cm"].sum(2), d["cm"].sum(1)], 1) for _, d, _ in members], 1).astype(np.float32)
        n, runs, _, c = feats.shape
        total = np.zeros((self.resamples, runs, 3, c), np.float32)
        for dom in sorted(set(domains.tolist())):
            idx = np.flatnonzero(domains == dom)
            w = resample_weights(len(idx), self.resamples, _seed_of(self.seed, first["ids"][idx])).astype(np.float32)
            sums = (w @ feats[idx].reshape(len(idx), -1)).reshape(self.resamples, runs, 3, c)
            total += sums
            self._store(members, str(dom), sums)
        self._store(members, "all", total)

    def _store(self, members: list, domain: str, sums: np.ndarray) -> None:
        by_conv = {conv: miou_from_sums(sums[:, :, 0], sums[:, :, 1], sums[:, :, 2], conv).astype(np.float32) for conv in {m[2] for m in members}}
        for j, (key, _, conv) in enumerate(members):
            self.samples[(*key, domain)] = by_conv[conv][:, j]

    def side(self, keys: Iterable[Key]) -> np.ndarray | None:
        """Mean over the given runs (seeds) of their resampled mIoU, or None if any lacks matrices."""
        vals = [self.samples.get(k) for k in keys]
        if not vals or any(v is None for v in vals):
            return None
        return np.mean(vals, axis=0)

    def interval(self, gains: np.ndarray | None) -> tuple[float, float, float]:
        """(low, high, p) of a bootstrap gain distribution; NaNs when there is none (no per-image matrices).

        The percentile interval uses order statistics (inverted CDF) and p = 2 min(share <= 0, share >= 0), floored
        at 1/R: the smallest level at which the percentile interval excludes 0. So the two never disagree: an
        interval excluding 0 has p <= 1 - level, and p < 1 - level means the interval excludes 0.
        """
        if gains is None or len(gains) == 0 or np.isnan(gains).all():
            return float("nan"), float("nan"), float("nan")
        g = gains[~np.isnan(gains)]
        a = (1 - self.level) / 2
        r = len(g)
        j = max(1, int(np.ceil(a * r - 1e-9)))  # the j-th smallest and j-th largest (numpy's percentile rounds 0.025 * 1000 up to 26)
        srt = np.sort(g)
        lo, hi = srt[j - 1], srt[r - j]
        p = max(2 * min(np.sum(g <= 0) / r, np.sum(g >= 0) / r), 1 / r)
        return float(lo), float(hi), float(min(1.0, p))


def significance(lo: float, hi: float) -> str:
    """'' when the interval excludes 0, 'ns' when it contains 0, 'n/a' when there is no interval."""
    if lo != lo or hi != hi:
        return "n/a"
    return "ns" if lo <= 0 <= hi else ""
