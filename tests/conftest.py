"""Shared test set-up: offline hubs, a small ToyCity cached once per session, config composition helpers."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from pathlib import Path  # noqa: E402
from typing import Sequence  # noqa: E402

import pytest  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from prove_lightning.config import compose  # noqa: E402

#: a ToyCity small enough to generate in about a second and train on in seconds
SMALL_TOYCITY = [
    "dataset.source.height=64",
    "dataset.source.width=128",
    "dataset.source.n_train=16",
    "dataset.source.n_test=4",
    "dataset.train_pipeline.scale=[128,64]",
    "dataset.train_pipeline.crop_size=[64,96]",
]


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def compose_train(overrides: Sequence[str], output_root: Path, cache: Path) -> DictConfig:
    """A fast deterministic CPU config: tiny model, small ToyCity, few steps."""
    base = [
        "stage=demo",
        "model=segformer_b0",
        "dataset=toycity",
        "trainer=cpu",
        "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1",
        "data.num_workers=0",
        "data.batch_size=4",
        "trainer.max_steps=6",
        "trainer.val_check_interval=3",
        "stage.checkpoint_interval=3",
        f"paths.output_root={output_root}",
        f"paths.cache_root={cache}",
        *SMALL_TOYCITY,
    ]
    cfg = compose("train", [*base, *overrides])
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra", None)
    return cfg


@pytest.fixture
def train_cfg(tmp_path: Path, cache_root: Path):
    def make(*overrides: str, output_root: Path | None = None) -> DictConfig:
        return compose_train(overrides, output_root or tmp_path / "out", cache_root)

    return make


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, cache_root: Path):
    """compose_train([]) trained to step 6 (checkpoints 3, 6) and tested, never interrupted (tests/reliability):
    (cfg, result, output root holding results.csv and the run's test/step_6/toycity.json)."""
    from prove_lightning.train import run_training

    out = tmp_path_factory.mktemp("uninterrupted")
    cfg = compose_train([], out, cache_root)
    return cfg, run_training(cfg), out
