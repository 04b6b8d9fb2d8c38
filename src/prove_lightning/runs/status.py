"""A run's failure record: ``<run_dir>/status.json``, read by pre-flight (``prove plan``) and ``prove track``.

Written only when a run fails in a way a relaunch would repeat (today: divergence), so a sweep does not retrain
it again and again. Format (JSON object)::

    {"status": "failed", "reason": "diverged", "step": 2, "detail": "diverged at step 2: loss = nan ...",
     "last_checkpoint": "checkpoints/last.ckpt" | null, "time": "2026-12-01T22:10:00"}

``status`` is always "failed"; ``reason`` says which guard stopped the run; ``step`` is the trainer's global step
at which the bad value appeared. A relaunch with ``preflight.retry_failed=true`` removes the file and resumes
from ``last.ckpt`` (the last finite weights). A finished run has no status.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from prove_lightning.io import atomic_write_json

STATUS_NAME = "status.json"


def status_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / STATUS_NAME


def write_failed(run_dir: str | Path, reason: str, step: int, detail: str, last_checkpoint: str | None = None) -> Path:
    path = status_path(run_dir)
    atomic_write_json(path, {"status": "failed", "reason": reason, "step": int(step), "detail": detail,
                             "last_checkpoint": last_checkpoint, "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return path


def read_failed(run_dir: str | Path) -> dict[str, Any] | None:
    """The failure record, or None (no file, or one that is unreadable: then pre-flight treats the run as usual)."""
    path = status_path(run_dir)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("status") == "failed" else None


def describe(record: dict[str, Any]) -> str:
    """'failed: diverged at step N' (the line prove plan shows)."""
    return f"failed: {record.get('reason', 'unknown')} at step {record.get('step', '?')}"


def clear(run_dir: str | Path) -> None:
    status_path(run_dir).unlink(missing_ok=True)
