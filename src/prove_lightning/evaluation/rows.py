"""Result rows from a per-test record (``run_dir/test/step_N/<set>.json``): the one place a row is built.

testing.py writes the record and then its rows; ``prove results --rebuild`` rebuilds the same rows from the same
records, so the store can always be recreated from the JSON files (the source of truth).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from prove_lightning.errors import DataError

#: the record fields copied into every row, in row order
PROVENANCE = ["config_hash", "code_version", "train_code_version", "ckpt_path", "run_dir", "time"]


def identity_of(cfg: DictConfig) -> dict[str, Any]:
    """The run's identity columns (first columns of every row)."""
    ratio = OmegaConf.select(cfg, "strategy.ratio", default=None)
    return {
        "run_id": str(cfg.run_relpath),
        "stage": cfg.stage.name,
        "strategy": cfg.strategy.name,
        "augment": cfg.augment.name,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "ratio": ratio if ratio is not None else 1.0,
        "loss": cfg.loss.name,
        "seed": cfg.seed,
    }


def rows_of_record(record: dict[str, Any], identity: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per domain of the record (plus 'all'), in the store's column order."""
    identity = identity or record["identity"]
    provenance = {k: record.get("checkpoint") if k == "ckpt_path" else record.get(k) for k in PROVENANCE}
    mode = (record.get("inference") or {}).get("mode", "whole")
    rows = []
    for dname, m in record["domains"].items():
        row = {**identity, "step": int(record["step"]), "test_dataset": record["test_dataset"], "domain": dname,
               "n_images": int(m["n_images"]), "aAcc": m["aAcc"], "mIoU": m["mIoU"], "mAcc": m["mAcc"], "fwIoU": m["fwIoU"]}
        row.update({f"iou_{c}": v["IoU"] for c, v in m["per_class"].items()})
        row.update({f"acc_{c}": v["Acc"] for c, v in m["per_class"].items()})
        row.update({"n_pixels": int(m["n_pixels"]), "n_classes_counted": int(m["n_classes_counted"]), "miou_convention": record["miou_convention"]})
        row.update({"test_split": record.get("test_split"), "inference": mode, **provenance})
        rows.append(row)
    return rows


def identity_from_run_dir(run_dir: Path) -> dict[str, Any]:
    """For records written before they carried their identity: read it from the run's config.yaml."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise DataError(f"{path}: missing; cannot tell which run the test records under {run_dir / 'test'} belong to")
    return identity_of(OmegaConf.load(path))


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable test record ({e})") from None
    if not isinstance(record, dict) or "domains" not in record or "step" not in record:
        raise DataError(f"{path}: not a test record (no domains / step)")
    return record
