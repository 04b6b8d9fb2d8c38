"""The publication export: chosen CSVs and figures copied into a data folder, with MANIFEST.json.

Layout (as the old pipeline's): ``results/`` (the stage's rows), ``leaderboard/`` (tables, chart),
``ablation/<analysis>/`` (each analysis with data: CSV, JSON, PNG), ``metadata/`` (the findings settings).
MANIFEST.json lists each file: source path, sha256, rows (CSVs), time, code version. Re-exporting is
idempotent: a file whose content is unchanged is not rewritten and keeps its manifest entry (time included),
files a previous export wrote that are no longer exported are removed, so two exports give identical trees.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Iterable

from prove_lightning.io import atomic_path, atomic_write_text

MANIFEST = "MANIFEST.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rows(path: Path) -> int | None:
    if path.suffix != ".csv":
        return None
    with open(path, "rb") as f:
        return max(sum(1 for _ in f) - 1, 0)


def export(files: Iterable[tuple[Path, str]], to: Path, code_version: str) -> dict:
    """Copy (source, relative destination) pairs under ``to``; write and return the manifest."""
    to = Path(to)
    old = {}
    if (to / MANIFEST).is_file():
        old = {e["path"]: e for e in json.loads((to / MANIFEST).read_text()).get("files", [])}
    entries = []
    for src, rel in files:
        src, dest = Path(src), to / rel
        digest = sha256(src)
        prev = old.get(rel)
        if prev and prev.get("sha256") == digest and dest.is_file() and sha256(dest) == digest:
            entries.append(prev)
            continue
        with atomic_path(dest, suffix=dest.suffix) as tmp:
            shutil.copyfile(src, tmp)
        entries.append({"path": rel, "source": str(src.resolve()), "sha256": digest, "rows": _rows(src), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "code_version": code_version})
    kept = {e["path"] for e in entries}
    for rel in set(old) - kept:
        (to / rel).unlink(missing_ok=True)
    entries.sort(key=lambda e: e["path"])
    manifest = {"files": entries, "n_files": len(entries)}
    atomic_write_text(to / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest
