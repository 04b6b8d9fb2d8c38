"""What a run leaves behind for a person on a cluster: its own log, its errors, and which jobs worked on it.

``run_dir/logs/train.log``   every log line of the run (ours, Lightning's, the plain progress lines), appended
                             across resumes, whatever the launcher (a logging FileHandler, not the launcher's files)
``run_dir/logs/error.log``   the full traceback of each failed attempt (appended; `prove plan` shows the last line)
``run_dir/logs/jobs.jsonl``  one line per attempt: host, pid, scheduler job id, where its stdout/stderr go, and
                             the Hydra output folder of the sweep job (which gets a ``run_dir.txt`` and a ``run`` link back)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from prove_lightning.io import apply_permissions, atomic_write_text, set_shared_permissions
from prove_lightning.runs.locks import current_job

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: loggers that do not propagate to the root (Lightning installs its own handler) or that we keep apart (progress)
_OWN_HANDLER_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric", "prove_lightning.progress")

log = logging.getLogger("prove_lightning.joblog")


def logs_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "logs"


def _stream_target(fd: int) -> str | None:
    """The file a job's stdout/stderr goes to (SLURM/LSF/submitit .out/.err), or None for a terminal or a pipe."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return target if target.startswith("/") and not target.startswith("/dev/") else None


def _hydra_output_dir() -> Path | None:
    """The sweep job's own Hydra folder (multirun/<time>/<n>), None outside a multirun."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # noqa: BLE001 - no Hydra context (tests, notebooks): nothing to link
        return None
    return None


def record_job(run_dir: Path) -> dict[str, Any]:
    """Append this attempt to logs/jobs.jsonl and point the sweep job's Hydra folder at the run directory."""
    scheduler, job_id = current_job()
    if scheduler is None and os.environ.get("SUBMITIT_LOCAL_JOB_ID"):  # hydra/launcher=local (submitit_local)
        scheduler, job_id = "local", os.environ["SUBMITIT_LOCAL_JOB_ID"]
    hydra_dir = _hydra_output_dir()
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "scheduler": scheduler,
        "job_id": job_id,
        "stdout": _stream_target(1),
        "stderr": _stream_target(2),
        "hydra_output_dir": str(hydra_dir) if hydra_dir else None,
    }
    path = logs_dir(run_dir) / "jobs.jsonl"
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
    apply_permissions(path)
    if hydra_dir is not None and hydra_dir.resolve() != run_dir.resolve():
        atomic_write_text(hydra_dir / "run_dir.txt", f"{run_dir}\n")
        link = hydra_dir / "run"
        if not link.is_symlink() and not link.exists():
            try:
                link.symlink_to(run_dir, target_is_directory=True)
            except OSError:  # a file system without links: run_dir.txt names it
                pass
    return entry


def last_error(run_dir: str | Path) -> str | None:
    """The last line of the run's error.log (the exception's message), or None."""
    path = logs_dir(run_dir) / "error.log"
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1].strip() if lines else None


def _write_error(run_dir: Path, exc: BaseException, entry: dict[str, Any]) -> Path:
    path = logs_dir(run_dir) / "error.log"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    head = f"=== {entry['time']} host={entry['host']} pid={entry['pid']} job={entry['job_id'] or '-'}\n"
    with open(path, "a") as f:
        f.write(head + text)
    apply_permissions(path)
    return path


@contextmanager
def run_context(run_dir: str | Path, paths: Any = None) -> Iterator[None]:
    """Around one attempt at a run: shared-folder permissions, logs/train.log, logs/jobs.jsonl, and on any
    exception the full traceback in logs/error.log and on stderr (user errors keep their one line on stderr)."""
    from prove_lightning.errors import ProveError

    paths = paths or {}
    set_shared_permissions(paths.get("file_mode"), paths.get("group"))
    run_dir = Path(run_dir)
    logs_dir(run_dir).mkdir(parents=True, exist_ok=True)
    train_log = logs_dir(run_dir) / "train.log"
    handler = logging.FileHandler(train_log, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    targets = [logging.getLogger(), *(logging.getLogger(n) for n in _OWN_HANDLER_LOGGERS)]
    for lg in targets:
        lg.addHandler(handler)
    pkg = logging.getLogger("prove_lightning")
    old_level = pkg.level
    if pkg.getEffectiveLevel() > logging.INFO:
        pkg.setLevel(logging.INFO)
    apply_permissions(train_log)
    try:
        entry = record_job(run_dir)
        log.info("attempt on %s (job %s); stdout %s, stderr %s", entry["host"], entry["job_id"] or "-", entry["stdout"] or "-", entry["stderr"] or "-")
        try:
            yield
        except Exception as exc:
            path = _write_error(run_dir, exc, entry)
            log.error("run failed: %s: %s (traceback in %s)", type(exc).__name__, exc, path)
            if not isinstance(exc, ProveError):
                print(f"prove_lightning: run {run_dir} failed; the traceback is also in {path}", file=sys.stderr)
                traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
                sys.stderr.flush()
            raise
    finally:
        for lg in targets:
            lg.removeHandler(handler)
        handler.close()
        pkg.setLevel(old_level)
