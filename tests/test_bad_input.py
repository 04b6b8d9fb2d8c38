"""Bad overrides fail with one clear message and a non-zero exit, through the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prove_lightning.errors import ConfigError, DataError
from prove_lightning.train import run_training


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prove_lightning.train", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_unknown_model_lists_the_options(tmp_path: Path) -> None:
    r = run_cli("model=segformer_b99", cwd=tmp_path)
    assert r.returncode != 0
    assert "Could not find 'model/segformer_b99'" in r.stderr
    assert "segformer_b3" in r.stderr  # Hydra lists the available options


def test_unknown_dataset_lists_the_options(tmp_path: Path) -> None:
    r = run_cli("dataset=nowhere", cwd=tmp_path)
    assert r.returncode != 0 and "Could not find 'dataset/nowhere'" in r.stderr and "toycity" in r.stderr


def test_nonpositive_max_steps_is_one_clear_line(tmp_path: Path) -> None:
    r = run_cli("trainer.max_steps=0", "model=segformer_b0", f"paths.output_root={tmp_path}", f"paths.cache_root={tmp_path}/c", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == "error: trainer.max_steps must be a positive number of steps, got 0"
    assert "Traceback" not in r.stderr


def test_missing_data_root_names_the_option(tmp_path: Path) -> None:
    from prove_lightning.config import compose

    cfg = compose("train", ["model=segformer_b0", "dataset=stratified", "dataset.source.dataset_dir=BDD10k", f"paths.data_root={tmp_path}/nope", f"paths.output_root={tmp_path}"])
    cfg.pop("hydra")
    with pytest.raises(DataError, match=r"paths.data_root") as e:
        run_training(cfg)
    assert str(tmp_path / "nope") in str(e.value)


def test_pretrained_without_weights_says_which_file(train_cfg, tmp_path: Path) -> None:
    cfg = train_cfg("model.pretrained=true", f"model.weights_path={tmp_path}/mit_b0.pth")
    with pytest.raises(ConfigError, match=r"mit_b0.pth"):
        run_training(cfg)


def test_negative_val_interval(train_cfg) -> None:
    with pytest.raises(ConfigError, match="val_check_interval"):
        run_training(train_cfg("trainer.val_check_interval=-1"))
