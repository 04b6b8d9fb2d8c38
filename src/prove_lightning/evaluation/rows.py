"""Result rows from a per-test record (``run_dir/test/step_N/<set>.json``), for ``prove results --rebuild``.

tasks/test_run.py writes each record (with the run's identity columns) and then its rows with
evaluation.testing.result_rows; this module feeds the same function from the record alone, so the store can
always be recreated from the JSON files (the source of truth).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prove_lightning.errors import DataError

#: the record fields copied into every row, in row order
PROVENANCE = ["config_hash", "code_version", "train_code_version", "ckpt_path", "run_dir", "time"]


def rows_of_record(record: dict[str, Any], identity: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows test_run.py wrote for this record, in the store's column order."""
    from prove_lightning.evaluation.testing import result_rows

    identity = identity or record["identity"]
    provenance = {k: record.get("checkpoint") if k == "ckpt_path" else record.get(k) for k in PROVENANCE}
    mode = (record.get("inference") or {}).get("mode", "whole")
    ts = SimpleNamespace(name=record["test_dataset"], split=record.get("test_split"))
    return result_rows(identity, int(record["step"]), ts, record["domains"], record["miou_convention"], mode, provenance)  # type: ignore[arg-type]


def identity_from_run_dir(run_dir: Path) -> dict[str, Any]:
    """For records written before they carried their identity: the run's saved config.yaml."""
    from omegaconf import OmegaConf

    from prove_lightning.tasks.spec import build_run_spec

    path = run_dir / "config.yaml"
    if not path.is_file():
        raise DataError(f"{path}: missing; cannot tell which run the test records under {run_dir / 'test'} belong to")
    return dict(build_run_spec(OmegaConf.load(path), run_dir).row_identity)


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable test record ({e})") from None
    if not isinstance(record, dict) or "domains" not in record or "step" not in record:
        raise DataError(f"{path}: not a test record (no domains / step)")
    return record
