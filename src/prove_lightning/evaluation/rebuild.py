"""Recreate results.csv from the per-test JSON records under the run directories (the source of truth).

Any damage to the store (a cut line, a hand edit, a lost file) is repairable: every test writes
``run_dir/test/step_N/<test set>.json`` before its rows reach the store, and these records hold every row field.
The old store is kept as ``results.csv.before-rebuild-<time>``; nothing is deleted.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from prove_lightning.errors import DataError
from prove_lightning.evaluation.results import ResultsStore
from prove_lightning.evaluation.rows import identity_from_run_dir, read_record, rows_of_record

log = logging.getLogger(__name__)


def find_records(output_root: str | Path) -> list[Path]:
    return sorted(p for p in Path(output_root).glob("**/test/step_*/*.json") if p.is_file())


def rebuild_store(output_root: str | Path) -> dict[str, Any]:
    """Rows of every record under ``output_root`` written as the whole store; returns counts and skipped files."""
    root = Path(output_root)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    records = find_records(root)
    for path in records:
        try:
            record = read_record(path)
            identity = record.get("identity") or identity_from_run_dir(path.parents[2])
            rows.extend(rows_of_record(record, identity))
        except (DataError, KeyError, TypeError, ValueError) as e:
            skipped.append(f"{path}: {e}")
            log.warning("skipped %s: %s", path, e)
    store = ResultsStore(root)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.drop_duplicates(subset=["run_id", "step", "test_dataset", "domain"], keep="last")
    backup = None
    if store.path.exists():
        backup = store.path.with_name(f"{store.path.name}.before-rebuild-{time.strftime('%Y%m%d-%H%M%S')}")
        store.path.replace(backup)
    if table.empty:
        store.path.write_text("")
    else:
        store.replace_all(table)
    return {"records": len(records), "rows": len(table), "skipped": skipped, "backup": str(backup) if backup else None, "store": str(store.path)}
