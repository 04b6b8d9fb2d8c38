"""Launching `python -m prove_lightning.train` the way a user does, with a tiny ToyCity config, for sweep tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import prove_lightning

SRC = Path(prove_lightning.__file__).resolve().parents[1]
HELPERS = Path(__file__).resolve().parent

#: the same small ToyCity as tests/conftest.py, and a model that trains in seconds on a CPU
SMALL = [
    "dataset.source.height=64",
    "dataset.source.width=128",
    "dataset.source.n_train=16",
    "dataset.source.n_test=4",
    "dataset.train_pipeline.scale=[128,64]",
    "dataset.train_pipeline.crop_size=[64,96]",
]


def tiny(output_root: Path, cache_root: Path, steps: int = 6, workers: int = 0, ckpt_every: int = 2) -> list[str]:
    return [
        "model=segformer_b0",
        "trainer=cpu",
        "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1",
        f"data.num_workers={workers}",
        "data.batch_size=4",
        f"trainer.max_steps={steps}",
        f"trainer.val_check_interval={steps}",
        f"stage.checkpoint_interval={ckpt_every}",
        f"paths.output_root={output_root}",
        f"paths.cache_root={cache_root}",
        *SMALL,
    ]


def pause_at(marker_dir: Path, step: int) -> list[str]:
    """Overrides adding tests/slurm/jobhelpers.PauseOnce to a job's callbacks."""
    return ["+callbacks.pause._target_=jobhelpers.PauseOnce", f"+callbacks.pause.marker_dir={marker_dir}", f"+callbacks.pause.step={step}"]


def job_env(**extra: str) -> dict[str, str]:
    """The caller's environment with this checkout's code and the in-job helpers first on PYTHONPATH."""
    env = dict(os.environ)
    paths = [str(SRC), str(HELPERS), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env.update(PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)), HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def train_cmd(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "prove_lightning.train", *overrides]


def run_train(overrides: Sequence[str], env: dict[str, str], timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(train_cmd(*overrides), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def ensure_small_toycity(cache_root: Path) -> None:
    """Generate the small ToyCity once, before jobs start (so parallel jobs only read it)."""
    from prove_lightning.data.sources.toycity import ToyCitySource

    ToyCitySource(root=cache_root / "toycity", seed=0, height=64, width=128, n_train=16, n_test=4).records("train")
