"""Test helpers that run inside launched jobs (importable there because the tests put tests/slurm on PYTHONPATH)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytorch_lightning as pl


def _preemption_pending(trainer: pl.Trainer) -> bool:
    """Whether the run's PreemptionCheckpoint callback has noted a warning signal (SIGUSR2) it will act on."""
    return any(getattr(cb, "_pending", None) is not None for cb in trainer.callbacks)


class PauseOnce(pl.Callback):
    """Holds each run at ``step`` once, so a test can act on a job in a known state.

    The run writes ``<marker_dir>/paused-<run dir>`` (its run dir, pid and scheduler job id) and waits until
    ``<marker_dir>/release`` exists, the job is told to stop (SIGTERM, or a warning signal the preemption
    callback noted), or ``timeout_s`` passes. A later run of the same run dir (a requeued job) finds its
    marker and passes straight on.
    """

    def __init__(self, marker_dir: str, step: int = 1, timeout_s: float = 180.0) -> None:
        self.dir = Path(marker_dir)
        self.step, self.timeout_s = step, timeout_s

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: object, batch_idx: int) -> None:
        if trainer.global_step != self.step:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        run_dir = str(trainer.default_root_dir)
        try:
            fd = os.open(self.dir / ("paused-" + run_dir.strip("/").replace("/", "_")), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        job = os.environ.get("SLURM_ARRAY_JOB_ID")
        job_id = f"{job}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if job else os.environ.get("SLURM_JOB_ID") or os.environ.get("LSB_JOBID")
        with os.fdopen(fd, "w") as f:
            json.dump({"run_dir": run_dir, "pid": os.getpid(), "job_id": job_id, "step": trainer.global_step}, f)
        t0 = time.time()
        while time.time() - t0 < self.timeout_s:
            if (self.dir / "release").exists() or trainer.received_sigterm or _preemption_pending(trainer):
                return
            time.sleep(0.1)


class BatchLog(pl.Callback):
    """Writes, per rank, what every training batch held as loaded: the step, the dataset indices, which samples
    are generated, and a checksum of each image and label (equal checksums = the same sample, same augmentation),
    to ``<out_dir>/rank<r>.jsonl``; and rank 0's validation metrics to ``<out_dir>/val_step<N>.json``."""

    def __init__(self, out_dir: str) -> None:
        self.dir = Path(out_dir)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: dict, batch_idx: int) -> None:
        import torch

        self.dir.mkdir(parents=True, exist_ok=True)
        gen = batch.get("generated")
        line = {
            "rank": trainer.global_rank,
            "world": trainer.world_size,
            "step": trainer.global_step,
            "index": [int(i) for i in batch["index"]],
            "generated": [bool(g) for g in (gen.tolist() if isinstance(gen, torch.Tensor) else gen or [False] * len(batch["index"]))],
            "image_sum": batch["image"].to(torch.int64).sum(dim=(1, 2, 3)).tolist(),
            "label_sum": batch["label"].to(torch.int64).sum(dim=(1, 2)).tolist(),
            "lr": [float(g["lr"]) for g in trainer.optimizers[0].param_groups],
        }
        with open(self.dir / f"rank{trainer.global_rank}.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank == 0:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / f"val_step{trainer.global_step}.json").write_text(json.dumps(pl_module.val_results, default=float))
