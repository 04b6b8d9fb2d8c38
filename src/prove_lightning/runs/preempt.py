"""Save ``last.ckpt`` at a step boundary when the scheduler stops the job, so the requeued job resumes from it.

Two ways a cluster stops a training job early:
- SIGTERM (``scontrol requeue``, ``scancel``, SLURM preemption, LSF ``bkill``/``brequeue``): Lightning notes it
  and stops at the end of the current step with ``SIGTERMException``; this callback then writes last.ckpt.
- the warning signal a job asks for before its time limit (submitit and our LSF executor use SIGUSR2): this
  callback notes it, writes last.ckpt after the current step, then hands over to the handler that was there
  before (submitit's, which requeues the job and exits).
Either way the requeued job re-runs the same config and ``train.py`` resumes from last.ckpt. Saving happens
between steps, never inside one, so the checkpoint is consistent.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Sequence

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

#: exit status after saving on SIGTERM (128 + 15, what a process killed by SIGTERM reports)
EXIT_PREEMPTED = 143


def _signum(name: str | int) -> signal.Signals:
    if isinstance(name, int):
        return signal.Signals(name)
    key = name.upper()
    return getattr(signal, key if key.startswith("SIG") else f"SIG{key}")


class PreemptionCheckpoint(pl.Callback):
    def __init__(self, dirpath: str | Path, signals: Sequence[str | int] = ("SIGUSR2",), filename: str = "last.ckpt") -> None:
        self.path = Path(dirpath) / filename
        self.signals = [_signum(s) for s in signals]
        self._pending: tuple[int, FrameType | None, Any] | None = None
        self._previous: dict[int, Any] = {}
        self._saved_step: int | None = None

    # ------------------------------------------------------------------ signal set-up
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.signals:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        log.warning("received %s: saving %s after this step", signal.Signals(signum).name, self.path)
        self._pending = (signum, frame, self._previous.get(signum))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        for sig, prev in self._previous.items():
            if threading.current_thread() is threading.main_thread() and prev is not None:
                signal.signal(sig, prev)
        self._previous = {}

    # ------------------------------------------------------------------ saving
    def _save(self, trainer: pl.Trainer, why: str) -> None:
        if self._saved_step == trainer.global_step:
            return
        trainer.save_checkpoint(self.path)
        self._saved_step = trainer.global_step
        log.warning("%s: saved %s at step %d; a requeued job resumes from it", why, self.path, trainer.global_step)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if self._pending is None:
            return
        signum, frame, previous = self._pending
        self._pending = None
        self._save(trainer, signal.Signals(signum).name)
        if callable(previous):
            previous(signum, frame)  # e.g. submitit: checkpoint the job description, requeue, exit
        raise SystemExit(EXIT_PREEMPTED)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        # SIGTERMException is raised by Lightning only between steps (or between validation batches)
        if isinstance(exception, SIGTERMException):
            self._save(trainer, "SIGTERM")
