"""Plain progress lines a person can read in a SLURM .out file, a pipe or run_dir/logs/train.log.

A live progress bar redraws one line: outside a terminal only its last frame survives. This callback writes a
line every ``every_n_steps`` steps (and after each validation) to the ``prove_lightning.progress`` logger, which
run_dir/logs/train.log receives; when stdout is not a terminal it also prints them there, and
:func:`wants_plain_progress` tells the trainer builder to turn the live bar off.

    step 120/1000 (12%) | 3.41 it/s | ETA 0:04:18 | loss 0.8123 | lr 6.00e-05 | val mIoU 23.41 @100
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from typing import Any

import pytorch_lightning as pl

log = logging.getLogger("prove_lightning.progress")
log.propagate = False  # its own handlers: stdout (not a terminal) and the run's train.log
log.setLevel(logging.INFO)


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class PlainProgress(pl.Callback):
    """``to_stdout``: "auto" (only when stdout is not a terminal), true or false; the log file always gets the lines."""

    def __init__(self, every_n_steps: int = 50, to_stdout: str | bool = "auto") -> None:
        self.every_n_steps = max(int(every_n_steps), 1)
        self.to_stdout = (not stdout_is_terminal()) if to_stdout == "auto" else bool(to_stdout)
        self._handler: logging.Handler | None = None
        self._t0 = self._t_last = 0.0
        self._step0 = self._step_last = 0
        self._val: tuple[float, int] | None = None

    # ------------------------------------------------------------------ set-up
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.to_stdout and self._handler is None and trainer.is_global_zero:
            self._handler = logging.StreamHandler(sys.stdout)
            self._handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(self._handler)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._handler is not None:
            log.removeHandler(self._handler)
            self._handler = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0 = self._t_last = time.monotonic()
        self._step0 = self._step_last = trainer.global_step
        if trainer.is_global_zero:
            log.info("training from step %d to %d", trainer.global_step, trainer.max_steps)

    # ------------------------------------------------------------------ lines
    def line(self, trainer: pl.Trainer) -> str:
        step, total = trainer.global_step, trainer.max_steps
        now = time.monotonic()
        window = max(now - self._t_last, 1e-9)
        rate = (step - self._step_last) / window
        overall = (step - self._step0) / max(now - self._t0, 1e-9)
        parts = [f"step {step}/{total} ({100 * step / max(total, 1):.0f}%)", f"{rate:.2f} it/s"]
        if overall > 0 and total > 0:
            parts.append(f"ETA {dt.timedelta(seconds=round(max(total - step, 0) / overall))}")
        # the module keeps every step's loss; train/loss is logged only on the steps the loggers write (module.py)
        loss = _float(getattr(trainer.lightning_module, "last_train_loss", None))
        if loss is None:
            loss = _float(trainer.callback_metrics.get("train/loss"))
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        lrs = [g["lr"] for opt in trainer.optimizers for g in opt.param_groups if "lr" in g]
        if lrs:
            parts.append(f"lr {max(lrs):.2e}")
        if self._val is not None:
            parts.append(f"val mIoU {self._val[0]:.2f} @{self._val[1]}")
        self._t_last, self._step_last = now, step
        return " | ".join(parts)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if trainer.is_global_zero and (step % self.every_n_steps == 0 or step >= trainer.max_steps):
            log.info(self.line(trainer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        miou = _float(trainer.callback_metrics.get("val/mIoU"))
        if miou is not None:
            self._val = (miou, trainer.global_step)
            log.info("validation at step %d: mIoU %.2f", trainer.global_step, miou)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            log.info("training done at step %d in %s", trainer.global_step, dt.timedelta(seconds=round(time.monotonic() - self._t0)))


def wants_plain_progress(callbacks: list[Any]) -> bool:
    """Turn Lightning's live bar off: stdout is no terminal, a PlainProgress prints there and no bar callback was chosen."""
    from pytorch_lightning.callbacks.progress import ProgressBar

    has_bar = any(isinstance(c, ProgressBar) for c in callbacks)
    return not has_bar and any(isinstance(c, PlainProgress) and c.to_stdout for c in callbacks)
