"""What a valid results.csv looks like, checked line by line (so one bad line cannot wedge the whole store).

The header must hold the key columns, each column once, and the writer's lead columns in the writer's order (two
swapped names would otherwise be read silently as each other). A row must have as many fields as the header,
non-empty key columns, and numbers where numbers belong. A bad header cannot be repaired from the file: it is a
StoreError naming results.csv and the fix (``prove results --rebuild``). A bad row is returned as a problem
(line number, reason, raw line) and left out.
"""

from __future__ import annotations

import csv
import math
import numbers
from pathlib import Path
from typing import Any

import pandas as pd

from prove_lightning.errors import ProveError

KEY = ["run_id", "step", "test_dataset", "domain"]
#: rows of one test (one checkpoint on one test set) are replaced together
GROUP = ["run_id", "step", "test_dataset"]
LEAD_COLUMNS = [
    "run_id", "stage", "strategy", "augment", "dataset", "model", "ratio", "loss", "seed", "step",
    "test_dataset", "domain", "n_images", "aAcc", "mIoU", "mAcc", "fwIoU",
]
STR_COLUMNS = ["run_id", "stage", "strategy", "augment", "dataset", "model", "loss", "test_dataset", "domain"]
INT_COLUMNS = ["step", "seed", "n_images", "n_pixels", "n_classes_counted"]
FLOAT_COLUMNS = ["ratio", "aAcc", "mIoU", "mAcc", "fwIoU"]
REBUILD = "run `prove results --rebuild --output-root <root>` to recreate it from the per-test JSON files under the run directories"


class StoreError(ProveError, ValueError):
    """results.csv cannot be read as a whole (its header) or a row to be written is invalid."""


def _is_number_column(name: str) -> bool:
    return name in FLOAT_COLUMNS or name in INT_COLUMNS or name.startswith(("iou_", "acc_"))


def check_header(header: list[str], path: Path) -> None:
    if not header or all(not h.strip() for h in header):
        raise StoreError(f"{path}: no header line; {REBUILD}")
    blank = [i + 1 for i, h in enumerate(header) if not h.strip()]
    if blank:
        raise StoreError(f"{path}: header column {blank[0]} has no name; {REBUILD}")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise StoreError(f"{path}: header repeats column(s) {dup}; {REBUILD}")
    missing = [k for k in KEY if k not in header]
    if missing:
        raise StoreError(f"{path}: header lacks key column(s) {missing}; {REBUILD}")
    lead = [h for h in header if h in LEAD_COLUMNS]
    expected = [c for c in LEAD_COLUMNS if c in header]
    if lead != expected or header[: len(lead)] != lead:
        wrong = next((f"column {i + 1} is '{a}' where the writer puts '{b}'" for i, (a, b) in enumerate(zip(header, expected)) if a != b), "lead columns out of place")
        raise StoreError(f"{path}: header is not the writer's ({wrong}; expected the columns to start {','.join(expected)}); {REBUILD}")


def check_row(header: list[str], fields: list[str]) -> str | None:
    """Why a row is bad, or None."""
    if len(fields) != len(header):
        return f"{len(fields)} fields where the header has {len(header)} (a cut or merged line)"
    row = dict(zip(header, fields))
    for k in KEY:
        if not row[k].strip():
            return f"empty key column '{k}'"
    for name, value in row.items():
        if not value or not _is_number_column(name):
            continue
        try:
            number = float(value)
        except ValueError:
            return f"column '{name}' is '{value[:40]}', not a number"
        if name in INT_COLUMNS and not (math.isfinite(number) and number == int(number)):
            return f"column '{name}' is '{value[:40]}', not a whole number"
    return None


def parse_store(text: str, path: Path) -> tuple[list[str], list[str], list[tuple[int, str, str]]]:
    """(header, valid raw lines, problems) of a results.csv text; StoreError for a bad header."""
    lines = text.splitlines()
    if not lines:
        if text == "":
            return [], [], []  # an empty file: an empty store
        raise StoreError(f"{path}: no header line; {REBUILD}")
    header = next(csv.reader([lines[0]]))
    check_header(header, path)
    good: list[str] = []
    problems: list[tuple[int, str, str]] = []
    seen: dict[tuple[str, ...], int] = {}
    key_idx = [header.index(k) for k in KEY]
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            fields = next(csv.reader([line]))
        except csv.Error as e:
            problems.append((n, f"not a CSV line ({e})", line))
            continue
        why = check_row(header, fields)
        if why is None:
            key = tuple(fields[i] for i in key_idx)
            if key in seen:
                why = f"repeats the key {key} of line {seen[key]}"
            else:
                seen[key] = n
        if why:
            problems.append((n, why, line))
        else:
            good.append(line)
    return header, good, problems


def check_new_rows(df: pd.DataFrame, path: Path) -> None:
    """Rows about to be written: key columns present and non-empty, numbers (or NaN) in number columns, keys unique."""
    missing = [k for k in KEY if k not in df.columns]
    if missing:
        raise StoreError(f"{path}: result rows lack key columns {missing}; nothing was written")
    for k in KEY:
        bad = df[k].isna() | (df[k].astype(str).str.strip() == "")
        if bad.any():
            raise StoreError(f"{path}: result row {int(bad.idxmax())} has an empty key column '{k}'; nothing was written")
    for c in df.columns:
        if not _is_number_column(c):
            continue
        ok = df[c].map(lambda v: v is None or (isinstance(v, numbers.Number) and not isinstance(v, bool)))
        if not ok.all():
            i = int((~ok).idxmax())
            raise StoreError(f"{path}: result row {i} has '{df[c].iloc[i]}' in number column '{c}'; nothing was written")
    steps = df["step"].map(lambda v: isinstance(v, numbers.Integral) or (isinstance(v, float) and v.is_integer()))
    if not steps.all():
        raise StoreError(f"{path}: result rows have a step that is not a whole number; nothing was written")
    dup = df.duplicated(KEY)
    if dup.any():
        raise StoreError(f"{path}: result rows repeat keys {df.loc[dup, KEY].values.tolist()[:5]}; nothing was written")
