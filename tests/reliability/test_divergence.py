"""The divergence guard: the issue's command (model.lr=1e6) stops at the first NaN, keeps only finite checkpoints,
marks the run failed for prove plan, writes no results and exits 3; trainer.detect_divergence=false turns it off."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf
from reliability_helpers import run_train_cli

from prove_lightning.config import compose
from prove_lightning.errors import ConfigError, DivergedError
from prove_lightning.runs.divergence import DivergenceGuard
from prove_lightning.runs.preflight import FAILED, TO_RUN, check_run
from prove_lightning.tasks.spec import build_run_spec
from prove_lightning.tasks.store import results_index
from prove_lightning.train import run_training

pytestmark = pytest.mark.reliability

SMALL = ["dataset.source.height=64", "dataset.source.width=128", "dataset.source.n_train=16", "dataset.source.n_test=4",
         "dataset.train_pipeline.scale=[128,64]", "dataset.train_pipeline.crop_size=[64,96]"]


def _cli_config(args: list[str]):
    cfg = compose("train", args)
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra", None)
    return cfg


def _finite(path: Path) -> bool:
    sd = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    return all(bool(torch.isfinite(v).all()) for v in sd.values() if v.is_floating_point())


def test_issue_command_stops_at_the_first_nan_and_marks_the_run_failed(tmp_path: Path, cache_root: Path, train_cfg) -> None:
    out = tmp_path / "out"
    args = ["stage=demo", "model=segformer_b0", "model.lr=1e6", "trainer.max_steps=12", "trainer=cpu", "data.num_workers=0",
            "stage.checkpoint_interval=1", "trainer.enable_progress_bar=false", f"paths.output_root={out}", f"paths.cache_root={cache_root}", *SMALL]
    rc, err = run_train_cli(args)
    last = err.strip().splitlines()[-1]
    assert rc == 3, err[-3000:]
    assert last.startswith("error: diverged at step ") and "loss = nan" in last and "no results written" in last
    step = int(last.split("diverged at step ")[1].split(":")[0])
    run_dir = out / "demo/baseline/toycity/segformer_b0"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and status["reason"] == "diverged" and status["step"] == step
    ckpts = sorted((run_dir / "checkpoints").glob("*.ckpt"))
    assert ckpts and all(_finite(p) for p in ckpts)  # non-finite weights are never saved
    assert torch.load(run_dir / "checkpoints/last.ckpt", weights_only=False)["global_step"] == step  # the last finite step
    assert not (out / "results.csv").exists() and not (run_dir / "test").exists()  # no result rows
    # prove plan / pre-flight show it; a relaunch refuses it (one line), a sweep skips it
    cfg = _cli_config(args)  # the very config the CLI ran: any other training setting would be an identity conflict
    check = check_run(build_run_spec(cfg), results_index(out))
    assert check.status == FAILED and check.detail.startswith(f"failed: diverged at step {step} (") and "retry_failed=true" in check.detail
    with pytest.raises(ConfigError, match=rf"failed: diverged at step {step}"):
        run_training(cfg)
    assert run_training(cfg, in_sweep=True)["status"] == FAILED
    retry = _cli_config([*args, "preflight.retry_failed=true"])
    assert check_run(build_run_spec(retry), results_index(out)).status == TO_RUN


def test_detect_divergence_false_trains_through(train_cfg, tmp_path: Path) -> None:
    cfg = train_cfg("model.lr=1e6", "trainer.max_steps=4", "trainer.val_check_interval=4", "stage.checkpoint_interval=4",
                    "trainer.detect_divergence=false", "test_after_training=false")
    result = run_training(cfg)
    assert result["final_ckpt"].is_file() and not _finite(result["final_ckpt"])  # what the guard prevents
    assert not (Path(cfg.run_dir) / "status.json").exists()


def test_loss_spike_factor_stops_a_loss_far_above_its_running_median(tmp_path: Path) -> None:
    guard = DivergenceGuard(tmp_path, loss_spike_factor=10, window=5, min_history=3)
    trainer = SimpleNamespace(global_step=0, is_global_zero=True)
    for i, loss in enumerate([2.0, 1.9, 2.1, 15.0, 1.8]):  # 15 < 10 x median 2.0: still fine
        trainer.global_step = i
        guard.on_before_backward(trainer, None, torch.tensor(loss))
    trainer.global_step = 5
    with pytest.raises(DivergedError, match=r"diverged at step 5: loss = 25 > 10 x its running median 2"):
        guard.on_before_backward(trainer, None, torch.tensor(25.0))
    assert json.loads((tmp_path / "status.json").read_text())["step"] == 5
    restored = DivergenceGuard(tmp_path, loss_spike_factor=10, window=5)
    restored.load_state_dict(guard.state_dict())  # the history travels in checkpoints: a resumed run judges alike
    assert list(restored.history) == list(guard.history)


def test_nonfinite_gradients_stop_before_the_optimizer_step(tmp_path: Path) -> None:
    net = torch.nn.Linear(2, 1)
    net.weight.grad = torch.tensor([[float("inf"), 0.0]])
    net.bias.grad = torch.zeros(1)
    guard = DivergenceGuard(tmp_path)
    with pytest.raises(DivergedError, match=r"diverged at step 7: 1 parameter gradients are not finite \(e.g. weight\)"):
        guard.on_before_optimizer_step(SimpleNamespace(global_step=7, is_global_zero=True), net, None)
