"""Test one checkpoint of a run on its test sets: build the module, run the test loop, write
``run_dir/test/step_N/<test set>.json`` (and prediction PNGs), upsert result rows into the results store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from prove_lightning.data.domains import DOMAINS
from prove_lightning.evaluation.per_image import per_image_path, write_per_image
from prove_lightning.evaluation.predictions import PredictionWriter
from prove_lightning.evaluation.results import ResultsStore
from prove_lightning.evaluation.testing import class_names_for, load_weights, per_domain_metrics, result_rows, run_test_loop
from prove_lightning.evaluation.testsets import TestSet
from prove_lightning.io import atomic_write_json
from prove_lightning.runs.identity import config_hash
from prove_lightning.runs.spec import RunSpec
from prove_lightning.runs.version import code_version
from prove_lightning.tasks.parts import build_module
from prove_lightning.tasks.testsets import resolve_test_sets

def _train_code_version(spec: RunSpec) -> str | None:
    try:
        return json.loads(spec.run_dir.version_json.read_text()).get("code_version")
    except (OSError, ValueError):
        return None


def test_checkpoint(
    spec: RunSpec,
    ckpt_path: str | Path,
    test_sets: Sequence[TestSet] | None = None,
    store_root: str | Path | None = None,
    accelerator: str = "auto",
    progress: bool = True,
    save_predictions: bool = False,
    num_workers: int = 0,
    miou_convention: str | None = None,
) -> list[dict[str, Any]]:
    """Test one checkpoint on every test set (default: the stage's, RunSpec.test_sets); one row per
    (test set, domain with images) plus 'all'."""
    test_sets = list(test_sets) if test_sets is not None else resolve_test_sets(spec)
    config = spec.config
    module = build_module(config, [t.name for t in test_sets])
    step = load_weights(module, ckpt_path)
    out_dir = spec.run_dir.test_dir(step)
    writer = PredictionWriter(out_dir, test_sets) if save_predictions else None
    run_test_loop(module, test_sets, accelerator=accelerator, progress=progress, num_workers=num_workers, hook=writer)
    convention = miou_convention or config["eval"]["miou_convention"]
    provenance = {
        "config_hash": config_hash(config),
        "code_version": code_version()["code_version"],
        "train_code_version": _train_code_version(spec),
        "ckpt_path": str(Path(ckpt_path).resolve()),
        "run_dir": str(spec.run_dir.path),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    class_names = class_names_for(config["dataset"]["num_classes"])
    rows: list[dict[str, Any]] = []
    for t, ts in enumerate(test_sets):
        per_domain, cm = per_domain_metrics(module, t, class_names, convention)
        record = {
            "checkpoint": provenance["ckpt_path"],
            "step": step,
            "test_dataset": ts.name,
            "test_split": ts.split,
            "miou_convention": convention,
            "inference": dict(module.inference),
            **{k: v for k, v in provenance.items() if k != "ckpt_path"},
            "test_set": ts.describe(),
            "predictions": writer.summary(t) if writer else None,
            "confusion_matrix": {d: cm[DOMAINS.index(d)].tolist() for d in per_domain if d != "all"},
            "domains": per_domain,
            "identity": dict(spec.row_identity),  # so `prove results --rebuild` makes the same rows from this file alone
        }
        atomic_write_json(spec.run_dir.test_json(step, ts.name), record)
        write_per_image(per_image_path(spec.run_dir.test_json(step, ts.name)), *module.test_per_image[t], class_names)
        rows += result_rows(spec.row_identity, step, ts, per_domain, convention, module.inference.get("mode", "whole"), provenance)
    if store_root is not None:
        ResultsStore(store_root).upsert(rows)
    return rows
