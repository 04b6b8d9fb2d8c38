"""Checkpoints are written to a temp file in the same folder and renamed: a crash never leaves half a .ckpt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from prove_lightning.io import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any | None = None) -> None:
        with atomic_path(path, suffix=".ckpt.tmp") as tmp:
            torch.save(checkpoint, tmp)

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        p = Path(path)
        if p.exists() or p.is_symlink():
            p.unlink()
