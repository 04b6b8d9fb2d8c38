"""Checkpoints are written to a temp file in the same folder and renamed: a crash never leaves half a .ckpt.

Two refusals on top: weights with a NaN / Inf are never saved (last.ckpt stays the last finite checkpoint), and a
full disk or read-only folder is one StorageError naming the file (torch says only ``basic_ios::clear``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from prove_lightning.errors import DivergedError
from prove_lightning.io import atomic_path, storage_error


class AtomicCheckpointIO(TorchCheckpointIO):
    def __init__(self, refuse_nonfinite: bool = True) -> None:
        super().__init__()
        self.refuse_nonfinite = refuse_nonfinite  # off with trainer.detect_divergence=false

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any | None = None) -> None:
        from prove_lightning.runs.divergence import nonfinite_weights

        bad = nonfinite_weights(checkpoint.get("state_dict", {})) if self.refuse_nonfinite else []
        if bad:
            step = int(checkpoint.get("global_step", -1))
            raise DivergedError(f"diverged at step {step}: refusing to save {path}: {len(bad)} weight tensors are not finite (e.g. {bad[0]})", step)
        with atomic_path(path, suffix=".ckpt.tmp") as tmp:
            try:
                torch.save(checkpoint, tmp)
            except RuntimeError as e:  # torch's writer reports ENOSPC / EIO as a RuntimeError without the path
                free = shutil.disk_usage(tmp.parent).free
                full = "no space left on the device (disk full): " if free < 64 * 2**20 else ""
                raise storage_error(path, f"{full}writing failed ({str(e).splitlines()[0]}; {free} bytes free there)") from None

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        p = Path(path)
        if p.exists() or p.is_symlink():
            p.unlink()
