"""A small hand-written results table covering every analysis, with the expected answers worked out by hand
in tests/test_findings.py (shared by the findings tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# (stage, strategy, augment, dataset, ratio, loss, step, domain, mIoU[, run suffix]); model m1, test set = dataset
S1 = 15000
ROWS = [
    # s1: baseline, gen_A, gen_B (two seeds on d1), std_cutmix, gen_D; hrnet rows (excluded); a cell without baseline (d3)
    ("s1", "baseline", "none", "d1", 1.0, "ce", S1, "all", 50.0), ("s1", "baseline", "none", "d2", 1.0, "ce", S1, "all", 40.0),
    ("s1", "gen_A", "none", "d1", 0.5, "ce", S1, "all", 52.0), ("s1", "gen_A", "none", "d2", 0.5, "ce", S1, "all", 41.0),
    ("s1", "gen_A", "none", "d3", 0.5, "ce", S1, "all", 99.0),
    ("s1", "gen_B", "none", "d1", 0.5, "ce", S1, "all", 50.0), ("s1", "gen_B", "none", "d1", 0.5, "ce", S1, "all", 48.0, "_seed7"),
    ("s1", "gen_B", "none", "d2", 0.5, "ce", S1, "all", 43.0),
    ("s1", "std_cutmix", "cutmix", "d1", 1.0, "ce", S1, "all", 51.0), ("s1", "std_cutmix", "cutmix", "d2", 1.0, "ce", S1, "all", 40.0),
    ("s1", "gen_D", "none", "d1", 0.5, "ce", S1, "all", 47.0), ("s1", "gen_D", "none", "d2", 0.5, "ce", S1, "all", 40.0),
    ("s1", "baseline", "none", "d1", 1.0, "ce", S1, "clear_day", 60.0), ("s1", "baseline", "none", "d1", 1.0, "ce", S1, "night", 40.0),
    ("s1", "gen_A", "none", "d1", 0.5, "ce", S1, "clear_day", 60.0), ("s1", "gen_A", "none", "d1", 0.5, "ce", S1, "night", 46.0),
    # noise (baselines from s1 through conf/stage/noise.yaml: baseline_stage)
    ("noise", "gen_random_noise", "none", "d1", 0.5, "ce", S1, "all", 51.0), ("noise", "gen_random_noise", "none", "d2", 0.5, "ce", S1, "all", 39.0),
    ("noise", "gen_random_noise", "none", "d1", 0.0, "ce", S1, "all", 48.0), ("noise", "gen_random_noise", "none", "d2", 0.0, "ce", S1, "all", 41.0),
    # s1_ratio: gen_A on d1 at 0.0 / 0.25 / 0.75 (0.5 from s1, 1.0 = the s1 baseline)
    ("s1_ratio", "gen_A", "none", "d1", 0.0, "ce", S1, "all", 44.0), ("s1_ratio", "gen_A", "none", "d1", 0.25, "ce", S1, "all", 48.0),
    ("s1_ratio", "gen_A", "none", "d1", 0.75, "ce", S1, "all", 53.0),
    # from_scratch
    ("from_scratch", "baseline", "none", "d1", 1.0, "ce", 40000, "all", 30.0), ("from_scratch", "baseline", "none", "d2", 1.0, "ce", 40000, "all", 20.0),
    ("from_scratch", "gen_A", "none", "d1", 0.5, "ce", 40000, "all", 29.0), ("from_scratch", "gen_A", "none", "d2", 0.5, "ce", 40000, "all", 21.0),
    ("from_scratch", "gen_B", "none", "d1", 0.5, "ce", 40000, "all", 35.0), ("from_scratch", "gen_B", "none", "d2", 0.5, "ce", 40000, "all", 25.0),
    ("from_scratch", "std_cutmix", "cutmix", "d1", 1.0, "ce", 40000, "all", 29.0), ("from_scratch", "std_cutmix", "cutmix", "d2", 1.0, "ce", 40000, "all", 19.0),
    # cg (Cityscapes) and the combination stage (its reference: cg)
    ("cg", "baseline", "none", "cs", 1.0, "ce", 20000, "all", 70.0), ("cg", "gen_A", "none", "cs", 0.5, "ce", 20000, "all", 71.0),
    ("cg", "gen_B", "none", "cs", 0.5, "ce", 20000, "all", 73.0), ("cg", "std_cutmix", "cutmix", "cs", 1.0, "ce", 20000, "all", 69.0),
    ("combination", "gen_A", "cutmix", "cs", 0.5, "ce", 20000, "all", 75.0),
    # extended_s1: every 5k checkpoint tested (the 15k rows are the s1 runs')
    ("extended_s1", "baseline", "none", "d1", 1.0, "ce", 20000, "all", 51.0), ("extended_s1", "baseline", "none", "d1", 1.0, "ce", 45000, "all", 52.0),
    ("extended_s1", "gen_A", "none", "d1", 0.5, "ce", 20000, "all", 54.0), ("extended_s1", "gen_A", "none", "d1", 0.5, "ce", 45000, "all", 57.0),
    # loss and batch-size ablations (standard setting: the s1 run)
    ("loss_ablation", "gen_A", "none", "d1", 0.5, "lovasz", S1, "all", 53.0),
    ("batch_size", "gen_A", "none", "d1", 0.5, "ce", S1, "all", 50.0, "_bs8"),
]
HRNET = [("s1", "baseline", "none", "d1", 1.0, "ce", S1, "all", 10.0), ("s1", "gen_A", "none", "d1", 0.5, "ce", S1, "all", 90.0)]


def run_id(stage: str, strategy: str, augment: str, dataset: str, model: str, ratio: float, loss: str, suffix: str = "") -> str:
    strat = f"{strategy}+{augment}" if strategy.startswith("gen_") and augment != "none" else strategy
    leaf = model + (f"_ratio{ratio:.2f}".replace(".", "p") if ratio < 1 else "") + (f"_{loss}" if loss != "ce" else "")
    return f"{stage}/{strat}/{dataset}/{leaf}{suffix}"


def _row(t: tuple, model: str) -> dict:
    stage, strategy, augment, dataset, ratio, loss, step, domain, miou, *rest = t
    suffix = rest[0] if rest else ""
    return {
        "run_id": run_id(stage, strategy, augment, dataset, model, ratio, loss, suffix), "stage": stage, "strategy": strategy,
        "augment": augment, "dataset": dataset, "model": model, "ratio": ratio, "loss": loss, "seed": 7 if "seed7" in suffix else 42,
        "step": step, "test_dataset": dataset, "domain": domain, "n_images": 10, "aAcc": 90.0, "mIoU": miou, "mAcc": miou, "fwIoU": miou,
    }


def hand_rows() -> pd.DataFrame:
    return pd.DataFrame([_row(t, "m1") for t in ROWS] + [_row(t, "hrnet_w48") for t in HRNET])


def write_csv(path: Path) -> Path:
    hand_rows().to_csv(path, index=False)
    return path


def per_image(n: int, c: int, correct: float, seed: int) -> np.ndarray:
    """(n, c, c) matrices: 100 pixels per image spread over classes, a fraction ``correct`` on the diagonal."""
    rng = np.random.default_rng(seed)
    cms = np.zeros((n, c, c), np.int64)
    for i in range(n):
        gt = rng.integers(0, c, 100)
        pred = np.where(rng.random(100) < correct, gt, rng.integers(0, c, 100))
        np.add.at(cms[i], (gt, pred), 1)
    return cms


def write_store_with_matrices(root: Path, runs: list[tuple[tuple, np.ndarray]], domains: list[str], model: str = "m1") -> Path:
    """A results store under ``root`` whose runs kept per-image matrices: each (ROWS-style tuple without domain
    and mIoU: stage, strategy, augment, dataset, ratio, loss, step[, suffix]; (n, C, C) matrices) gets its .npz
    at root/<run_id>/test/step_<step>/<dataset>.npz and one row per domain (and ``all``) whose mIoU is the
    matrices' (the store's point value and the bootstrap come from the same counts)."""
    from prove_lightning.evaluation.per_image import write_per_image
    from prove_lightning.findings.bootstrap import miou_from_sums

    ids = [f"img{i:03d}.png" for i in range(len(domains))]
    rows = []
    for t, cms in runs:
        stage, strategy, augment, dataset, ratio, loss, step, *rest = t
        rid = run_id(stage, strategy, augment, dataset, model, ratio, loss, rest[0] if rest else "")
        write_per_image(root / rid / "test" / f"step_{step}" / f"{dataset}.npz", ids, domains, cms, [str(c) for c in range(cms.shape[1])])
        for d in ["all", *sorted(set(domains))]:
            s = (cms if d == "all" else cms[np.array(domains) == d]).sum(0)
            miou = float(miou_from_sums(np.diag(s).astype(float), s.sum(1).astype(float), s.sum(0).astype(float)))
            rows.append(_row((stage, strategy, augment, dataset, ratio, loss, step, d, miou, *rest), model) | {"n_images": int(len(domains))})
    path = root / "results.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
