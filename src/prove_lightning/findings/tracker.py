"""The tracker: one status per run of a sweep's grid, from its run directory and the results store only.

Statuses (first that applies):
- ``tested``: the final checkpoint is tested on every test set of the stage (rows in the store at its step);
- ``locked``: a lock file names a holder (host, pid, job id): alive, or stale (a dead holder left it);
- ``trained``: the final checkpoint exists, some test set has no results;
- ``failed``: the job ended with an error: ``logs/error.log`` in the run directory (written by the job on an
  uncaught error) exists; its last line is shown; the run had no final checkpoint;
- ``partial``: step k of N: the last periodic checkpoint (``step_k.ckpt``, ``last.ckpt``);
- ``no_generated_images``: a gen_* run whose manifest holds no images for its dataset (skipped by launches);
- ``missing``: nothing yet.
Why its own module: ``prove track`` runs on login nodes and in scripts, so it never imports torch (tested); it
checks files, where ``prove plan`` decides what a job must do.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from prove_lightning.evaluation.results import STORE_NAME
from prove_lightning.runs.locks import holder_alive, lock_path, read_lock
from prove_lightning.runs.spec import RunDir

TESTED, LOCKED, TRAINED, FAILED, PARTIAL, NO_GENERATED, MISSING = (
    "tested", "locked", "trained", "failed", "partial", "no_generated_images", "missing",
)
STATUSES = (TESTED, TRAINED, PARTIAL, FAILED, LOCKED, NO_GENERATED, MISSING)
#: written by a job that ends with an error (issue 16), under RunDir.logs
ERROR_LOG_NAME = "error.log"


@dataclass(frozen=True)
class RunFacts:
    """What the tracker needs to know about one run of the grid (from its composed config)."""

    run_id: str
    run_dir: Path
    stage: str
    strategy: str
    dataset: str
    model: str
    max_steps: int
    test_sets: tuple[str, ...]
    #: generated images it can mix in: None = uses none (or writes them on first use), 0 = none available
    n_generated: int | None = None
    #: evaluate-only run (cross-dataset): the source run's final checkpoint, tested under this run's id
    source_ckpt: Path | None = None


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    stage: str
    strategy: str
    dataset: str
    model: str
    status: str
    detail: str
    run_dir: str


class TestedIndex:
    """(run_id, step, test_dataset) triples in the store: read once (three columns), asked many times."""

    def __init__(self, output_root: str | Path | None = None, frame: pd.DataFrame | None = None) -> None:
        if frame is None:
            path = Path(output_root or ".") / STORE_NAME
            frame = pd.read_csv(path, usecols=["run_id", "step", "test_dataset"], dtype=str) if path.is_file() else None
        self.keys: set[tuple[str, int, str]] = set()
        if frame is not None and len(frame):
            self.keys = set(zip(frame["run_id"].astype(str), frame["step"].astype(int), frame["test_dataset"].astype(str)))

    def untested(self, run_id: str, step: int, test_sets: Iterable[str]) -> list[str]:
        return [t for t in test_sets if (run_id, int(step), t) not in self.keys]


def last_error_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else "(empty error log)"


def _checkpoints(rd: RunDir) -> tuple[int | None, Path | None]:
    """Highest periodic checkpoint step and the newest checkpoint file (last.ckpt counts as newest)."""
    if not rd.checkpoints.is_dir():
        return None, None
    steps = rd.step_checkpoints()
    best = steps[-1] if steps else (None, None)
    return best[0], rd.last_ckpt if rd.last_ckpt.is_file() else best[1]


def run_status(f: RunFacts, index: TestedIndex, stale_after_s: float = 900.0) -> RunStatus:
    """The status of one run (see the module docstring for the order)."""

    def out(status: str, detail: str) -> RunStatus:
        return RunStatus(f.run_id, f.stage, f.strategy, f.dataset, f.model, status, detail, str(f.run_dir))

    rd = RunDir(f.run_dir)
    final = f.source_ckpt if f.source_ckpt is not None else rd.step_ckpt(f.max_steps)
    has_final = final.is_file()
    if has_final:
        untested = index.untested(f.run_id, f.max_steps, f.test_sets)
        if not untested:
            return out(TESTED, f"step {f.max_steps} tested on {', '.join(f.test_sets)}")
    lock_file = lock_path(rd.path)
    lock = read_lock(lock_file) if lock_file.exists() else None
    if lock is not None:
        alive, why = holder_alive(lock, stale_after_s)
        return out(LOCKED, f"{'alive' if alive else 'stale'}: {lock.holder()} ({why})")
    if has_final:
        what = "source checkpoint" if f.source_ckpt is not None else final.name
        return out(TRAINED, f"{what} exists; no results on {', '.join(untested)}")
    step, last = _checkpoints(rd)
    err = rd.logs / ERROR_LOG_NAME
    if err.is_file():
        where = f"; last checkpoint {last}" if last else ""
        return out(FAILED, f"{last_error_line(err)} ({err}{where})")
    if last is not None:
        return out(PARTIAL, f"step {step if step is not None else '?'} of {f.max_steps}; last checkpoint {last}")
    if f.n_generated == 0:
        return out(NO_GENERATED, "its manifest has no generated images for this dataset")
    if f.source_ckpt is not None:
        return out(MISSING, f"source checkpoint {f.source_ckpt} does not exist yet")
    return out(MISSING, "not started")


def track(facts: Sequence[RunFacts], index: TestedIndex, stale_after_s: float = 900.0) -> list[RunStatus]:
    return [run_status(f, index, stale_after_s) for f in facts]


def counts(statuses: Sequence[RunStatus], by: str | None = None) -> pd.DataFrame:
    """Runs per status, overall (by=None) or per stage / model / dataset."""
    if by is None:
        c = Counter(s.status for s in statuses)
        return pd.DataFrame([{**{k: c.get(k, 0) for k in STATUSES}, "total": len(statuses)}])
    df = pd.DataFrame([asdict(s) for s in statuses])
    if df.empty:
        return pd.DataFrame(columns=[by, *STATUSES, "total"])
    t = pd.crosstab(df[by], df["status"]).reindex(columns=list(STATUSES), fill_value=0)
    t["total"] = t.sum(axis=1)
    return t.reset_index()


def summary(statuses: Sequence[RunStatus]) -> dict:
    """The JSON object of ``prove track --json``."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "counts": counts(statuses).iloc[0].to_dict(),
        "by_stage": counts(statuses, "stage").to_dict("records"),
        "by_model": counts(statuses, "model").to_dict("records"),
        "by_dataset": counts(statuses, "dataset").to_dict("records"),
        "all_tested": all(s.status == TESTED for s in statuses) and bool(statuses),
        "runs": [asdict(s) for s in statuses],
    }
