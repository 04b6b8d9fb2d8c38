"""Test helpers that run inside launched jobs (importable there because the tests put tests/slurm on PYTHONPATH)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytorch_lightning as pl


class PauseOnce(pl.Callback):
    """Holds training at ``step`` in the first job that gets there, so a test can act on a job in a known state.

    That job writes ``<marker_dir>/paused`` (its run dir, pid and scheduler job id) and waits until
    ``<marker_dir>/release`` exists, the job gets SIGTERM, or ``timeout_s`` passes. Every other job and every
    later run of the same job (after a requeue) passes straight on: the marker already exists.
    """

    def __init__(self, marker_dir: str, step: int = 1, timeout_s: float = 120.0) -> None:
        self.dir = Path(marker_dir)
        self.step, self.timeout_s = step, timeout_s

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: object, batch_idx: int) -> None:
        if trainer.global_step != self.step:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.dir / "paused", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        job = os.environ.get("SLURM_ARRAY_JOB_ID")
        job_id = f"{job}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if job else os.environ.get("SLURM_JOB_ID") or os.environ.get("LSB_JOBID")
        with os.fdopen(fd, "w") as f:
            json.dump({"run_dir": str(trainer.default_root_dir), "pid": os.getpid(), "job_id": job_id, "step": trainer.global_step}, f)
        t0 = time.time()
        while not (self.dir / "release").exists() and not trainer.received_sigterm and time.time() - t0 < self.timeout_s:
            time.sleep(0.1)
