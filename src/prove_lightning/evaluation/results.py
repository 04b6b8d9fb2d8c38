"""The results store: one CSV under the output root, one row per (run, checkpoint step, test dataset, domain).

Why CSV and not Parquet: a study has thousands of rows, not millions, so size and speed do not matter;
a CSV opens in any spreadsheet, diffs in git and greps on a cluster login node, and rows of datasets
with different class sets (other iou_<class> columns) simply leave cells empty. pandas reads it back
with the same types (key columns are forced to str / int).

Writes: every upsert holds a file lock (``results.csv.lock``, filelock = fcntl on Linux), reads the
table, drops the rows of every (run_id, step, test_dataset) it brings, appends its rows and renames a
complete temp file over the table. So a re-test replaces its rows instead of doubling them, concurrent
writers (SLURM array jobs testing at the end of training) lose nothing, and readers, who take no lock,
always see a whole file. The lock needs a file system with working POSIX locks (local disk, Lustre, GPFS;
not every NFS mount).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
from filelock import FileLock

from prove_lightning.io import atomic_path

KEY = ["run_id", "step", "test_dataset", "domain"]
#: rows of one test (one checkpoint on one test set) are replaced together
GROUP = ["run_id", "step", "test_dataset"]
LEAD_COLUMNS = [
    "run_id", "stage", "strategy", "augment", "dataset", "model", "ratio", "loss", "seed", "step",
    "test_dataset", "domain", "n_images", "aAcc", "mIoU", "mAcc", "fwIoU",
]
STORE_NAME = "results.csv"
_STR_COLUMNS = ["run_id", "stage", "strategy", "augment", "dataset", "model", "loss", "test_dataset", "domain"]


def _normalize(df: pd.DataFrame) -> pd.DataFrame:
    for c in _STR_COLUMNS:
        if c in df.columns:
            df[c] = df[c].astype(str)
    if "step" in df.columns:
        df["step"] = df["step"].astype("int64")
    return df


class ResultsStore:
    """The table at ``{root}/results.csv``: :meth:`upsert` rows, :meth:`read` / :meth:`query` them back."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / STORE_NAME
        self.lock = FileLock(str(self.path) + ".lock")

    def read(self) -> pd.DataFrame:
        if not self.path.exists():
            return pd.DataFrame(columns=LEAD_COLUMNS)
        return _normalize(pd.read_csv(self.path, dtype={c: str for c in _STR_COLUMNS}, keep_default_na=True))

    def upsert(self, rows: Iterable[dict[str, Any]]) -> int:
        """Add rows; rows of the same (run_id, step, test_dataset) already in the table are replaced. Returns len(rows)."""
        new = pd.DataFrame(list(rows))
        if new.empty:
            return 0
        missing = [k for k in KEY if k not in new.columns]
        if missing:
            raise ValueError(f"result rows lack key columns {missing}")
        new = _normalize(new)
        dup = new.duplicated(KEY)
        if dup.any():
            raise ValueError(f"result rows repeat keys {new.loc[dup, KEY].values.tolist()[:5]}")
        groups = set(map(tuple, new[GROUP].values.tolist()))
        with self.lock.acquire(poll_interval=0.005):  # short polls: many waiting writers hand over quickly
            old = self.read()
            if len(old):
                keep = [tuple(g) not in groups for g in old[GROUP].values.tolist()]
                old = old[keep]
            table = pd.concat([old, new], ignore_index=True) if len(old) else new
            cols = [c for c in LEAD_COLUMNS if c in table.columns] + [c for c in table.columns if c not in LEAD_COLUMNS]
            with atomic_path(self.path, suffix=".csv") as tmp:
                table[cols].to_csv(tmp, index=False)
        return len(new)

    def tested_keys(self) -> set[tuple[str, int, str]]:
        """Every (run_id, step, test_dataset) the store holds (what pre-flight's "tested?" check asks)."""
        if not self.path.exists():
            return set()
        with self.lock:
            df = self.read()
        return {(str(r), int(s), str(t)) for r, s, t in zip(df["run_id"], df["step"], df["test_dataset"])}

    def query(self, **filters: Any) -> pd.DataFrame:
        """:meth:`read` then :func:`filter_results` (stage=, run=, domain=, test_dataset=, step=, final_only=...)."""
        return filter_results(self.read(), **filters)


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple, set)) else [v]


def filter_results(
    df: pd.DataFrame,
    stage: str | Sequence[str] | None = None,
    run: str | Sequence[str] | None = None,
    domain: str | Sequence[str] | None = None,
    test_dataset: str | Sequence[str] | None = None,
    dataset: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    strategy: str | Sequence[str] | None = None,
    step: int | Sequence[int] | None = None,
    final_only: bool = False,
) -> pd.DataFrame:
    """Rows matching every given filter; ``run`` takes glob patterns of run ids (``s1/gen_*/bdd10k/*``).

    ``final_only`` keeps, per run, the rows of its highest tested step.
    """
    if df.empty:
        return df
    mask = pd.Series(True, index=df.index)
    for col, val in (("stage", stage), ("domain", domain), ("test_dataset", test_dataset), ("dataset", dataset), ("model", model), ("strategy", strategy)):
        if val is not None:
            mask &= df[col].isin([str(v) for v in _as_list(val)])
    if step is not None:
        mask &= df["step"].isin([int(s) for s in _as_list(step)])
    if run is not None:
        pats = [str(p) for p in _as_list(run)]
        mask &= df["run_id"].map(lambda r: any(fnmatch.fnmatchcase(r, p) for p in pats))
    out = df[mask]
    if final_only and len(out):
        out = out[out["step"] == out.groupby("run_id")["step"].transform("max")]
    return out.reset_index(drop=True)


def read_results(output_root: str | Path, **filters: Any) -> pd.DataFrame:
    """The results table under ``output_root`` as a DataFrame, optionally filtered (see :func:`filter_results`).

        from prove_lightning.evaluation.results import read_results
        df = read_results("outputs", stage="s1", domain=["night", "foggy"], final_only=True)
    """
    return ResultsStore(output_root).query(**filters)
