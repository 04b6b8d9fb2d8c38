"""Findings at scale: a synthetic store of 10,000 runs x 8 domains (80k rows) and 10,000 run directories.

Times (median of 5, with min-max spread) the tracker's status of every run (store index + file checks; Hydra
composition of the grid is `prove plan`'s cost and not counted), the leaderboard (read the CSV, matched cells,
seed means, breakdowns) and one analysis (domain_gap, which uses the per-domain rows). Target: < 2 s each.
Also times the paired bootstrap (1000 resamples) of 416 runs x 500 test images with per-image matrices.

    flock /work/notes/bench.lock .venv/bin/python benchmarks/bench_findings.py [--smoke] [--json out.json]

--smoke: 10 times fewer runs (the run_all.py smoke pass; figures not meaningful).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import Figure, emit, load_avg
from prove_lightning.evaluation.per_image import write_per_image
from prove_lightning.findings.analyses import Context, run_analysis
from prove_lightning.findings.bootstrap import Bootstrap
from prove_lightning.findings.config import findings_config
from prove_lightning.findings.leaderboard import leaderboard
from prove_lightning.findings.rows import exclude, load_rows
from prove_lightning.findings.tracker import RunFacts, TestedIndex, track

DOMAINS = ["clear_day", "cloudy", "dawn_dusk", "foggy", "night", "rainy", "snowy", "all"]
TARGET_S = 2.0


def synthetic(root: Path, n_seeds: int = 10) -> list[RunFacts]:
    rng = np.random.default_rng(0)
    strategies = ["baseline", *[f"gen_m{i:02d}" for i in range(45)], "std_cutmix", "std_mixup", "std_autoaugment", "std_randaugment"]
    datasets, models, seeds = ["bdd10k", "iddaw", "mapillary", "outside15k"], ["pspnet_r50", "segformer_b3", "segnext_b", "mask2former_swin_b", "hrnet_w48"], range(n_seeds)
    rows, facts = [], []
    for s in strategies:
        ratio = 0.5 if s.startswith("gen_") else 1.0
        for d in datasets:
            for m in models:
                for seed in seeds:
                    rid = f"s1/{s}/{d}/{m}{'_ratio0p50' if ratio < 1 else ''}{f'_seed{seed}' if seed else ''}"
                    i = len(facts)
                    run_dir = root / rid
                    ck = run_dir / "checkpoints"
                    ck.mkdir(parents=True)
                    kind = i % 10
                    if kind < 7:
                        (ck / "step_15000.ckpt").touch()
                    elif kind == 7:
                        (ck / "step_8000.ckpt").touch()
                        (ck / "last.ckpt").touch()
                    facts.append(RunFacts(rid, run_dir, "s1", s, d, m, 15000, (d,), None))
                    if kind < 6:  # tested: rows in the store
                        base = 40 + rng.normal(0, 1) + (0.5 if s.startswith("gen_") else 0)
                        rows += [{"run_id": rid, "stage": "s1", "strategy": s, "augment": "none", "dataset": d, "model": m, "ratio": ratio, "loss": "ce",
                                  "seed": seed, "step": 15000, "test_dataset": d, "domain": dom, "n_images": 100, "aAcc": 90.0,
                                  "mIoU": base - (10 if dom in ("night", "foggy") else 0), "mAcc": 50.0, "fwIoU": 80.0} for dom in DOMAINS]
    # top the store up to 10,000 runs' worth of rows (80k) with tested runs of a second stage
    extra = 1000 * n_seeds - len(rows) // len(DOMAINS)
    for j in range(extra):
        rid = f"s2/gen_x{j % 40}/bdd10k/pspnet_r50_ratio0p50_seed{j}"
        rows += [{"run_id": rid, "stage": "s2", "strategy": f"gen_x{j % 40}", "augment": "none", "dataset": "bdd10k", "model": "pspnet_r50", "ratio": 0.5,
                  "loss": "ce", "seed": j, "step": 15000, "test_dataset": "bdd10k", "domain": dom, "n_images": 100, "aAcc": 90.0, "mIoU": 40.0,
                  "mAcc": 50.0, "fwIoU": 80.0} for dom in DOMAINS]
    pd.DataFrame(rows).to_csv(root / "results.csv", index=False)
    return facts


def timed(fn, n: int = 5) -> tuple[float, float, float, object]:
    out, times = None, []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times), out


FIGURES: list[Figure] = []


def report(name: str, med: float, lo: float, hi: float, extra: str = "", target: float | None = TARGET_S) -> None:
    ok = "" if target is None else f"target < {target:.0f} s: {'met' if med < target else 'NOT met'}"
    print(f"{name:42s} median {med:6.3f} s  (min {lo:.3f}, max {hi:.3f})  {ok}  {extra}")
    FIGURES.append(Figure(name, med, "s", target, "<=", detail=f"min {lo:.3f}, max {hi:.3f}"))


def bootstrap_case(root: Path, n_runs: int = 416) -> None:
    """416 runs (26 strategies x 4 models x 4 datasets) tested on 500 images of 7 domains, 19 classes."""
    rng = np.random.default_rng(1)
    ids = [f"img{i:04d}" for i in range(500)]
    doms = [DOMAINS[i % 7] for i in range(500)]
    rows = []
    for k in range(n_runs):
        rd = root / "boot" / f"run{k}"
        cms = rng.integers(0, 50, (500, 19, 19)) * (rng.random((500, 19, 19)) < 0.1)
        cms[:, np.arange(19), np.arange(19)] += rng.integers(100, 400, (500, 19))
        write_per_image(rd / "test" / "step_1" / f"ds{k % 4}.npz", ids, doms, cms, [str(c) for c in range(19)])
        rows.append({"run_id": f"run{k}", "step": 1, "test_dataset": f"ds{k % 4}", "run_dir": str(rd)})
    df = pd.DataFrame(rows)

    def go():
        b = Bootstrap(1000, 0)
        b.add_tests(df, None)
        return b

    med, lo, hi, b = timed(go, 3)
    report(f"paired bootstrap, {n_runs} runs x 500 images", med, lo, hi, f"({len(b.samples)} resampled mIoU series of 1000; includes reading the .npz)", target=None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="1,000 runs instead of 10,000 (figures not meaningful)")
    ap.add_argument("--json", default=None, help="write the figures here (benchmarks/run_all.py)")
    a = ap.parse_args()
    print(load_avg())
    n_seeds = 1 if a.smoke else 10
    cfg = findings_config()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        facts = synthetic(root, n_seeds)
        rows = pd.read_csv(root / "results.csv", usecols=["run_id"])
        print(f"synthetic store: {len(rows)} rows ({rows['run_id'].nunique()} runs x {len(DOMAINS)} domains), {len(facts)} run directories, built in {time.perf_counter() - t:.1f} s")

        med, lo, hi, st = timed(lambda: track(facts, TestedIndex(root)))
        counts = pd.Series([s.status for s in st]).value_counts().to_dict()
        report(f"tracker status ({len(facts)} runs)", med, lo, hi, str(counts))

        def board():
            r = exclude(load_rows(root), cfg["exclude"])
            return leaderboard(r.df, "s1", cfg)

        med, lo, hi, b = timed(board)
        report(f"leaderboard s1 (read {len(rows) // 1000}k rows + breakdowns)", med, lo, hi, f"({len(b['leaderboard'])} strategies, {len(b['cells'])} cells)")
        df = exclude(load_rows(root), cfg["exclude"]).df
        med, lo, hi, res = timed(lambda: run_analysis("domain_gap", Context(df, cfg, root / "findings"), ["s1"]))
        report("analysis domain_gap s1 (incl. its figure)", med, lo, hi, f"({res.data['n']} strategies)")
        bootstrap_case(root, 40 if a.smoke else 416)
    emit(FIGURES, a.json)


if __name__ == "__main__":
    main()
