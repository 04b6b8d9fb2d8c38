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

A bad line cannot wedge the store (store_check.py): the reader checks the header and every row (number of fields,
key columns, number types); a bad row is reported with file, line number and reason and left out, and the next
writer moves it, verbatim, to ``results.rejected.csv`` instead of re-persisting it mangled. New rows are checked
before they are written (never a string or NaN where a key or number belongs). The per-test JSON files under the
run directories are the source of truth: ``prove results --rebuild`` recreates the whole store from them.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
from filelock import FileLock

from prove_lightning.evaluation.store_check import GROUP, KEY, LEAD_COLUMNS, STR_COLUMNS, StoreError, check_new_rows, parse_store
from prove_lightning.io import atomic_path, atomic_write_text, storage_error

log = logging.getLogger(__name__)

STORE_NAME = "results.csv"
REJECTED_NAME = "results.rejected.csv"
_STR_COLUMNS = STR_COLUMNS
_TEMP = re.compile(r"^\.results\.csv\.[A-Za-z0-9_]{8}\.csv$")
__all__ = ["GROUP", "KEY", "LEAD_COLUMNS", "STORE_NAME", "ResultsStore", "StoreError", "filter_results", "read_results"]


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
        self.rejected_path = self.root / REJECTED_NAME
        self.lock = FileLock(str(self.path) + ".lock")
        #: (line number, reason, raw line) of every row the last read left out
        self.problems: list[tuple[int, str, str]] = []

    def _parse(self) -> tuple[list[str], list[str]]:
        """(header, valid raw lines); raises StoreError for a header that cannot be trusted."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        header, good, self.problems = parse_store(text, self.path)
        for line_no, reason, _ in self.problems:
            log.warning("%s:%d: %s; row left out (moved to %s at the next write; `prove results --rebuild` recreates the store)", self.path, line_no, reason, REJECTED_NAME)
        return header, good

    def read(self) -> pd.DataFrame:
        header, good = self._parse()
        if not header:
            return pd.DataFrame(columns=LEAD_COLUMNS)
        text = ",".join(_quote(h) for h in header) + "\n" + "".join(line + "\n" for line in good)
        return _normalize(pd.read_csv(io.StringIO(text), dtype={c: str for c in _STR_COLUMNS}, keep_default_na=True))

    def _writable(self) -> None:
        if not os.access(self.root if self.root.exists() else self.root.parent, os.W_OK):
            raise storage_error(self.path, "the folder is read-only or not writable; the test results are safe in the per-test JSON files (run_dir/test/step_N/*.json): `prove results --rebuild` adds them once it is writable")

    def upsert(self, rows: Iterable[dict[str, Any]]) -> int:
        """Add rows; rows of the same (run_id, step, test_dataset) already in the table are replaced. Returns len(rows)."""
        new = pd.DataFrame(list(rows))
        if new.empty:
            return 0
        check_new_rows(new, self.path)
        new = _normalize(new)
        groups = set(map(tuple, new[GROUP].values.tolist()))
        self.root.mkdir(parents=True, exist_ok=True)
        self._writable()
        with self.lock.acquire(poll_interval=0.005):  # short polls: many waiting writers hand over quickly
            self._remove_stale_temp()
            old = self.read()
            self._quarantine()
            if len(old):
                keep = [tuple(g) not in groups for g in old[GROUP].values.tolist()]
                old = old[keep]
            table = pd.concat([old, new], ignore_index=True) if len(old) else new
            self._write(table)
        return len(new)

    def replace_all(self, table: pd.DataFrame) -> None:
        """Write ``table`` as the whole store (prove results --rebuild), under the lock."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._writable()
        with self.lock.acquire(poll_interval=0.005):
            self._remove_stale_temp()
            self._write(_normalize(table))

    def _write(self, table: pd.DataFrame) -> None:
        cols = [c for c in LEAD_COLUMNS if c in table.columns] + [c for c in table.columns if c not in LEAD_COLUMNS]
        with atomic_path(self.path, suffix=".csv") as tmp:
            table[cols].to_csv(tmp, index=False)

    def _quarantine(self) -> None:
        """Append the rows the last read left out to results.rejected.csv, verbatim, with line number and reason."""
        if not self.problems:
            return
        old = self.rejected_path.read_text() if self.rejected_path.exists() else "source_line,reason,raw_line\n"
        added = "".join(f"{n},{_quote(reason)},{_quote(raw)}\n" for n, reason, raw in self.problems)
        atomic_write_text(self.rejected_path, old + added)
        log.warning("moved %d bad row(s) of %s to %s", len(self.problems), self.path, self.rejected_path)

    def _remove_stale_temp(self) -> None:
        for p in self.root.glob(".results.csv.*.csv"):  # a writer killed mid-write (we hold the lock: none is live)
            if _TEMP.match(p.name):
                p.unlink(missing_ok=True)

    def tested_keys(self) -> set[tuple[str, int, str]]:
        """Every (run_id, step, test_dataset) the store holds (what pre-flight's "tested?" check asks)."""
        if not self.path.exists():
            return set()
        df = self.read()  # no lock: writers rename whole files over it (and a read-only store is still read)
        return {(str(r), int(s), str(t)) for r, s, t in zip(df["run_id"], df["step"], df["test_dataset"])}

    def query(self, **filters: Any) -> pd.DataFrame:
        """:meth:`read` then :func:`filter_results` (stage=, run=, domain=, test_dataset=, step=, final_only=...)."""
        return filter_results(self.read(), **filters)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value


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
