"""Accuracy of each domain tagger on ToyCity's held-out images, with a per-domain confusion matrix.

    python benchmarks/bench_domain_tagging.py [--cache /tmp/toycity] [--n-train 120] [--n-test 24]
                                              [--fit-seed 0] [--eval-seed 1] [--clip-model DIR]

The classifier is fitted (prove domains fit's code) on the train split of ToyCity seed --fit-seed; every tagger
is scored on the test split of ToyCity seed --eval-seed (other scenes than the ones the rules' thresholds and
the probe were set on), against ToyCity's own domain folders. clip runs only with a local CLIP model folder
(--clip-model, or env PROVE_CLIP_MODEL): nothing is downloaded. Printed per tagger: overall and per-domain
accuracy, the confusion matrix (rows: true domain, columns: tag) and throughput (images/s, median of 3 with
spread). Target (ToyCity): >= 0.90 overall accuracy for rules and classifier.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from prove_lightning.config import CONF_DIR
from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.sources.toycity import ToyCitySource
from prove_lightning.domains.classifier import ClassifierTagger
from prove_lightning.domains.features import feature_vector, load_small
from prove_lightning.domains.tagging import build_tagger, dataset_images, tag_items


def toycity(cache: Path, seed: int, n_train: int, n_test: int) -> ToyCitySource:
    return ToyCitySource(root=cache, seed=seed, n_train=n_train, n_test=n_test)


def confusion(truth: list[str], pred: list[str]) -> np.ndarray:
    cm = np.zeros((len(DOMAINS), len(DOMAINS)), int)
    for t, p in zip(truth, pred):
        cm[DOMAINS.index(t), DOMAINS.index(p)] += 1
    return cm


def report(name: str, truth: list[str], pred: list[str], rates: list[float]) -> float:
    cm = confusion(truth, pred)
    acc = float(np.trace(cm) / cm.sum())
    short = [d[:9] for d in DOMAINS]
    print(f"\n## {name}: accuracy {acc:.3f} on {cm.sum()} images; {statistics.median(rates):.0f} images/s (min {min(rates):.0f}, max {max(rates):.0f})")
    print(f"{'true/tag':12s}" + "".join(f"{s:>10s}" for s in short) + f"{'accuracy':>10s}")
    for i, d in enumerate(DOMAINS):
        row = cm[i]
        print(f"{d:12s}" + "".join(f"{v:10d}" for v in row) + f"{row[i] / max(row.sum(), 1):10.3f}")
    return acc


def timed(tagger, items) -> tuple[list[str], list[float]]:  # noqa: ANN001
    rates, preds = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        tags = tag_items(tagger, items)
        rates.append(len(items) / (time.perf_counter() - t0))
        preds = [t.domain for t in tags]
    return preds, rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("PROVE_CACHE_ROOT", "/tmp/prove_cache")) / "toycity")
    p.add_argument("--n-train", type=int, default=120)
    p.add_argument("--n-test", type=int, default=24)
    p.add_argument("--fit-seed", type=int, default=0)
    p.add_argument("--eval-seed", type=int, default=1)
    p.add_argument("--clip-model", default=os.environ.get("PROVE_CLIP_MODEL"))
    a = p.parse_args()

    fit_src = toycity(a.cache, a.fit_seed, a.n_train, a.n_test)
    fit_src.check_root()
    train = fit_src.records("train")
    probe = ClassifierTagger.fit(np.stack([feature_vector(load_small(r.image)) for r in train]), [r.domain for r in train], info={"trained_on": f"toycity seed {a.fit_seed} train"})
    eval_src = toycity(a.cache, a.eval_seed, a.n_train, a.n_test)
    items = [it for it in dataset_images(eval_src, splits=("test",))]
    truth = [str(it.native) for it in items]
    print(f"ToyCity held-out: test split of seed {a.eval_seed} ({len(items)} images, {a.n_test} per domain); classifier fitted on {len(train)} train images of seed {a.fit_seed}")

    results = {}
    rules = build_tagger("rules", OmegaConf.to_container(OmegaConf.load(CONF_DIR / "domains" / "rules.yaml")))  # type: ignore[arg-type]
    results["rules"] = report("rules", truth, *timed(rules, items))
    results["classifier"] = report("classifier", truth, *timed(probe, items))
    if a.clip_model:
        settings = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "domains" / "clip.yaml"), resolve=False)
        clip = build_tagger("clip", {**settings, "model_path": a.clip_model})  # type: ignore[dict-item]
        results["clip"] = report("clip", truth, *timed(clip, items))
    else:
        print("\n## clip: not run (no local CLIP model: --clip-model DIR or env PROVE_CLIP_MODEL)")
    print("\ntarget >= 0.90 overall (rules, classifier): " + ", ".join(f"{k} {v:.3f} {'met' if v >= 0.9 else 'NOT met'}" for k, v in results.items() if k != "clip"))


if __name__ == "__main__":
    main()
