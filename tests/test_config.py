"""Every config group option composes and resolves; the run directory is deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from prove_lightning.config import CONF_DIR, compose

# options that need a value the user must supply (``???``), given here so they resolve
REQUIRED = {("dataset", "stratified"): ["dataset.source.dataset_dir=BDD10k"]}
# groups selected with `group=option` in the train config
TRAIN_GROUPS = ["stage", "dataset", "model", "strategy", "augment", "loss", "trainer", "logger", "callbacks", "paths", "sweep"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in TRAIN_GROUPS for o in options(g)])
def test_every_option_composes_and_resolves(group: str, option: str, tmp_path: Path) -> None:
    cfg = compose("train", [f"{group}={option}", f"paths.output_root={tmp_path}", *REQUIRED.get((group, option), [])])
    hydra_cfg = cfg.pop("hydra")
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert container["run_dir"].startswith(str(tmp_path))
    assert hydra_cfg is not None


def test_every_group_has_options() -> None:
    for group in TRAIN_GROUPS:
        assert options(group), f"conf/{group}/ is empty"


def test_run_dir_is_deterministic_and_named_by_parts(tmp_path: Path) -> None:
    a = compose("train", ["stage=s1", "model=segformer_b0", f"paths.output_root={tmp_path}"])
    b = compose("train", ["stage=s1", "model=segformer_b0", f"paths.output_root={tmp_path}"])
    assert a.run_dir == b.run_dir == f"{tmp_path}/s1/baseline/toycity/segformer_b0"
    assert a.hydra.run.dir == a.run_dir


def test_eval_config_composes() -> None:
    cfg = compose("eval", ["run_dir=/x"])
    assert cfg.run_dir == "/x" and cfg.ckpt == "final"


def test_default_num_workers_follows_the_machine() -> None:
    from prove_lightning.config import compose, default_num_workers

    assert [default_num_workers(n) for n in (1, 2, 3, 4, 16, 64)] == [1, 1, 1, 2, 8, 8]
    cfg = compose("train", ["paths.output_root=/nonexistent"])
    assert cfg.data.num_workers == default_num_workers()
    assert compose("train", ["paths.output_root=/nonexistent", "data.num_workers=3"]).data.num_workers == 3
