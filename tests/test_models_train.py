"""Every model trains from the command-line path (run_training) on ToyCity with CE, and every loss with one model
(and Mask2Former with an extra term): 2 steps each, the loss terms the config names are the ones logged."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl

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


class Terms(pl.Callback):
    """Records the total loss and the names of the logged loss terms of every training step."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.names: set[str] = set()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.losses.append(float(outputs["loss"]))
        self.names |= {k.removeprefix("train/loss_") for k in trainer.callback_metrics if k.startswith("train/loss_")}


def train(train_cfg, *overrides: str) -> tuple[dict, Terms]:  # noqa: ANN001
    terms = Terms()
    result = run_training(train_cfg(*overrides, *SHORT), extra_callbacks=[terms])
    assert Path(result["final_ckpt"]).is_file()
    assert len(terms.losses) == 2 and all(math.isfinite(v) for v in terms.losses)
    return result, terms


@pytest.mark.parametrize(
    "model,terms",
    [
        ("segformer_b0", {"main"}),
        ("deeplabv3plus_tiny", {"main", "aux_head"}),
        ("pspnet_tiny", {"main", "aux_head"}),
        ("hrnet_tiny", {"main"}),
        ("segnext_tiny", {"main"}),
        ("mask2former_tiny", {"m2f_class", "m2f_mask", "m2f_dice"}),
    ],
)
def test_every_model_trains_with_ce(model: str, terms: set[str], train_cfg) -> None:  # noqa: ANN001
    result, seen = train(train_cfg, f"model={model}")
    assert Path(result["run_dir"]).name == model
    assert seen.names == terms


@pytest.mark.parametrize(
    "model,loss,terms",
    [
        ("segnext_tiny", "lovasz", {"main"}),
        ("segnext_tiny", "focal", {"main"}),
        ("segnext_tiny", "boundary", {"main"}),
        ("segnext_tiny", "aux_lovasz", {"main", "lovasz"}),
        ("segnext_tiny", "aux_focal", {"main", "focal"}),
        ("pspnet_tiny", "aux_boundary", {"main", "boundary", "aux_head"}),
        ("mask2former_tiny", "aux_focal", {"m2f_class", "m2f_mask", "m2f_dice", "focal"}),
    ],
)
def test_every_loss_trains(model: str, loss: str, terms: set[str], train_cfg) -> None:  # noqa: ANN001
    result, seen = train(train_cfg, f"model={model}", f"loss={loss}")
    assert Path(result["run_dir"]).name == f"{model}_{loss}"
    assert seen.names == terms
