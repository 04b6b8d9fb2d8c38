"""Early stopping that still finishes the run: pre-flight counts a run as trained by its final checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping

from prove_lightning.io import atomic_write_json


class EarlyStopToFinal(EarlyStopping):
    """Lightning's EarlyStopping (validation-based); when it stops the run before ``final_step``, the weights it
    stopped at are saved as ``dirpath/step_{final_step}.ckpt`` and ``logs/early_stop.json`` says at which step."""

    def __init__(self, dirpath: str, final_step: int, **kwargs: Any) -> None:
        kwargs.setdefault("check_on_train_epoch_end", False)
        super().__init__(**kwargs)
        self.dirpath, self.final_step = Path(dirpath), int(final_step)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.should_stop or trainer.global_step >= self.final_step:
            return
        final = self.dirpath / f"step_{self.final_step}.ckpt"
        trainer.save_checkpoint(final)
        if trainer.is_global_zero:
            info = {"stopped_at_step": trainer.global_step, "max_steps": self.final_step, "monitor": self.monitor,
                    "best_score": float(self.best_score), "patience": self.patience, "final_checkpoint": str(final)}
            atomic_write_json(self.dirpath.parent / "logs" / "early_stop.json", info)
            print(f"early stopping at step {trainer.global_step}: {json.dumps(info)}")
