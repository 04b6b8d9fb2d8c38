"""Every std_* strategy trains from the command-line path, and the run's audit records what was applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prove_lightning.train import run_training

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny 2-step runs: one intra-op thread is as fast on an idle 2-core machine and 3x faster on a shared one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

SHORT = ["trainer.max_steps=2", "trainer.val_check_interval=2", "stage.checkpoint_interval=2", "test_after_training=false", "+trainer.limit_val_batches=0"]


@pytest.mark.parametrize("name", ["photometric", "autoaugment", "randaugment", "cutmix", "mixup"])
def test_std_strategy_trains_and_is_audited(name: str, train_cfg) -> None:  # noqa: ANN001
    cfg = train_cfg(f"strategy=std_{name}", "model=segnext_tiny", f"augment.{'batch' if name in ('cutmix', 'mixup') else 'sample'}.0.p=1.0", *SHORT)
    result = run_training(cfg)
    run_dir = Path(result["run_dir"])
    assert run_dir.parts[-3] == f"std_{name}" and Path(result["final_ckpt"]).is_file()
    audit = json.loads((run_dir / "audit.json").read_text())
    described = [d["op"] for d in audit["sample_augment"] + audit["batch_augment"]]
    assert described == [name]
    applied = audit["augment_applied"]
    assert applied["samples"] == 2 * cfg.data.batch_size
    if name == "autoaugment":  # p = 1 draws a sub-policy for every sample; counted are the samples it changed
        assert 0 < applied[name] <= applied["samples"]
    else:  # p = 1: every sample changed
        assert applied[name] == applied["samples"]
