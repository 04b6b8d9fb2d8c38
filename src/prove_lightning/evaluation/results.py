"""The results store: one CSV under the output root, one row per (run, step, test dataset, domain).

Re-testing replaces rows with the same key; every write holds a file lock and renames a complete temp
file over the table, so concurrent writers lose nothing and readers never see half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from filelock import FileLock

from prove_lightning.io import atomic_path

KEY = ["run_id", "step", "test_dataset", "domain"]
LEAD_COLUMNS = [
    "run_id", "stage", "strategy", "augment", "dataset", "model", "ratio", "loss", "seed", "step",
    "test_dataset", "domain", "n_images", "aAcc", "mIoU", "mAcc", "fwIoU",
]
STORE_NAME = "results.csv"


class ResultsStore:
    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / STORE_NAME
        self.lock = FileLock(str(self.path) + ".lock")

    def read(self) -> pd.DataFrame:
        if not self.path.exists():
            return pd.DataFrame(columns=LEAD_COLUMNS)
        return pd.read_csv(self.path, keep_default_na=True)

    def upsert(self, rows: Iterable[dict[str, Any]]) -> int:
        new = pd.DataFrame(list(rows))
        if new.empty:
            return 0
        missing = [k for k in KEY if k not in new.columns]
        if missing:
            raise ValueError(f"result rows lack key columns {missing}")
        with self.lock:
            old = self.read()
            if not old.empty:
                keys_new = set(map(tuple, new[KEY].astype(str).values.tolist()))
                keep = [tuple(r) not in keys_new for r in old[KEY].astype(str).values.tolist()]
                old = old[keep]
                table = pd.concat([old, new], ignore_index=True) if len(old) else new
            else:
                table = new
            cols = [c for c in LEAD_COLUMNS if c in table.columns] + [c for c in table.columns if c not in LEAD_COLUMNS]
            with atomic_path(self.path, suffix=".csv") as tmp:
                table[cols].to_csv(tmp, index=False)
        return len(new)


def read_results(output_root: str | Path) -> pd.DataFrame:
    """The whole results table under ``output_root`` as a DataFrame."""
    return ResultsStore(output_root).read()
