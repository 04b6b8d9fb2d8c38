"""Pre-flight: before a job builds anything, decide whether its run needs training, testing, or nothing.

The same checks feed ``prove plan`` (one status per run of a sweep) and every training job (train.py), so a
grid launched twice only runs what is missing.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from prove_lightning.data.manifest import dataset_key
from prove_lightning.runs import status as run_status
from prove_lightning.runs.identity import describe, differences
from prove_lightning.runs.locks import lock_status
from prove_lightning.runs.spec import GeneratedSetting, RunSpec, SourceRun

log = logging.getLogger(__name__)

# statuses, in the order the plan lists them
DONE = "done"  # final checkpoint exists and is tested on every test set of the stage
NOT_TESTED = "not_tested"  # final checkpoint exists, some test set has no results
LOCKED = "locked"  # a live process holds the run lock
NO_GENERATED = "no_generated"  # gen_* strategy whose manifest has no rows for this dataset
NO_SOURCE = "no_source"  # extended / cross-dataset run whose source run is not finished
FAILED = "failed"  # <run_dir>/status.json marks it failed (it diverged): skipped until preflight.retry_failed=true
TO_RUN = "to_run"
CONFLICT = "conflict"  # the run directory holds a run of another identity or other training settings
STATUSES = (DONE, NOT_TESTED, LOCKED, FAILED, NO_GENERATED, NO_SOURCE, TO_RUN, CONFLICT)


class ResultsIndex:
    """Which (run_id, step, test_dataset) the results store holds; read once (on first question), asked many times.

    ``load`` returns those keys (tasks/store.py reads them from the results store), so pre-flight itself
    does not depend on the store's format and a run that is not trained never reads it.
    """

    def __init__(self, load: Callable[[], Iterable[tuple[str, int, str]]]) -> None:
        self._load = load
        self._keys: set[tuple[str, int, str]] | None = None

    @property
    def keys(self) -> set[tuple[str, int, str]]:
        if self._keys is None:
            self._keys = {(str(r), int(s), str(t)) for r, s, t in self._load()}
        return self._keys

    def tested(self, run_id: str, step: int, test_sets: list[str]) -> list[str]:
        """The test sets that still lack results for this run at this step."""
        return [t for t in test_sets if (run_id, step, t) not in self.keys]


_manifest_cache: dict[tuple[str, float], list[tuple[str, str]]] = {}


def _manifest_rows(path: Path) -> list[tuple[str, str]]:
    """(dataset, domain) of every manifest row, cached per file version."""
    key = (str(path), path.stat().st_mtime)
    if key not in _manifest_cache:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            _manifest_cache[key] = [(str(r.get("dataset", "")).lower(), str(r.get("domain", ""))) for r in reader]
    return _manifest_cache[key]


def generated_rows(setting: GeneratedSetting | None) -> tuple[int | None, str]:
    """Number of generated images this run can mix in (None when it mixes none), and where that was read.

    Rows match the run's dataset key as the training job's manifest loader matches them (data/manifest.py:
    ``dataset_key`` of the dataset and its folder aliases), so pre-flight counts what training would load.
    """
    if setting is None:
        return None, ""
    path = Path(setting.manifest)
    if not path.is_file():
        if setting.generates:
            return None, f"manifest {path} is written on first use by the strategy's generator"
        return 0, f"manifest {path} does not exist"
    keys = {dataset_key(setting.dataset), *(dataset_key(a) for a in setting.aliases)}
    rows = [d for ds, d in _manifest_rows(path) if dataset_key(ds) in keys]
    domains = setting.domains
    if domains:
        rows = [d for d in rows if d in domains]
    where = f"{path} (dataset {setting.dataset}{', domains ' + ','.join(domains) if domains else ''})"
    return len(rows), where


@dataclass(frozen=True)
class Check:
    """What pre-flight found for one run: a status, a sentence saying why, and what a job should do."""

    status: str
    detail: str
    run_dir: Path
    run_id: str
    #: 'train' (fit then test), 'test' (final checkpoint exists: test only), 'evaluate' (test a source run's
    #: checkpoint), or 'skip'
    action: str
    source: SourceRun | None = None


def check_run(spec: RunSpec, tested: ResultsIndex, check_lock: bool = True) -> Check:
    """The status of one run (no part of the run is built)."""
    run_dir = spec.run_dir.path
    run_id = spec.run_id
    src = spec.source
    names = spec.test_set_names
    stale_after = float(spec.preflight.get("lock_stale_after_s", 900))

    if check_lock:
        lock = lock_status(run_dir, stale_after)
        if lock is not None and lock[0] == "locked":
            return Check(LOCKED, f"locked by {lock[1]}", run_dir, run_id, "skip", src)

    if not spec.allow_config_change:
        diffs = differences(spec)
        if diffs:
            return Check(CONFLICT, f"{run_dir} holds a run with other settings: {describe(diffs)}", run_dir, run_id, "skip", src)

    if src is not None and src.mode == "evaluate":
        if not src.finished:
            return Check(NO_SOURCE, f"source run: {src.describe()}", run_dir, run_id, "skip", src)
        missing = tested.tested(run_id, int(src.max_steps or 0), names)
        if not missing:
            return Check(DONE, f"{src.final_ckpt.name} of {src.stage} tested on {', '.join(names)}", run_dir, run_id, "skip", src)
        return Check(TO_RUN, f"test {src.stage}'s {src.final_ckpt.name} on {', '.join(missing)}", run_dir, run_id, "evaluate", src)

    final = spec.final_ckpt
    step = spec.max_steps
    if final.is_file():
        # every checkpoint stage.test_checkpoints selects (final, all, [steps]) must be tested on every test set
        missing = {s: m for s, _ in spec.checkpoints_to_test() if (m := tested.tested(run_id, s, names))}
        if not missing:
            which = final.name if spec.test_checkpoints in (None, "final") else f"checkpoints {sorted(s for s, _ in spec.checkpoints_to_test())}"
            return Check(DONE, f"{which} tested on {', '.join(names)}", run_dir, run_id, "skip", src)
        if list(missing) == [step]:
            detail = f"no results on {', '.join(missing[step])}"
        else:
            detail = "no results for " + "; ".join(f"step {s} on {', '.join(m)}" for s, m in missing.items())
        return Check(NOT_TESTED, f"{final.name} exists; {detail}", run_dir, run_id, "test", src)

    failed = run_status.read_failed(run_dir)
    if failed is not None and not spec.preflight.get("retry_failed", False):
        fix = "lower model.lr (or fix the data), then relaunch with preflight.retry_failed=true"
        return Check(FAILED, f"{run_status.describe(failed)} ({run_status.status_path(run_dir)}); {fix}", run_dir, run_id, "skip", src)

    n_gen, where = generated_rows(spec.generated)
    if n_gen == 0:
        return Check(NO_GENERATED, f"no generated images: {where}", run_dir, run_id, "skip", src)

    last = spec.run_dir.last_ckpt
    if src is not None and src.mode == "extend" and not last.is_file() and not src.finished:
        return Check(NO_SOURCE, f"source run: {src.describe()}", run_dir, run_id, "skip", src)
    detail = "not started"
    if last.is_file():
        detail = "partly trained: resumes from checkpoints/last.ckpt"
    elif src is not None:
        detail = f"continues {src.stage}'s {src.final_ckpt.name} to step {step}"
    if check_lock:
        lock = lock_status(run_dir, stale_after)
        if lock is not None:
            detail += f"; stale lock of {lock[1]} will be taken over"
    if n_gen:
        detail += f"; {n_gen} generated images"
    elif where:
        detail += f"; {where}"
    return Check(TO_RUN, detail, run_dir, run_id, "train", src)
