"""Which steps log train/loss (each ``self.log`` costs ~0.5 ms of Lightning's per-step overhead on CPU, issue 15):
without a live progress bar only the steps the loggers write, yet the plain progress line still prints the loss of
the step it reports; with a live bar every step, as before."""

from __future__ import annotations

import logging

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from prove_lightning.config import compose, instantiate
from prove_lightning.models.net import SegNet
from prove_lightning.module import SegModule
from prove_lightning.runs.progress import PlainProgress


class Batches(Dataset):
    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {"image": torch.randint(0, 256, (2, 3, 8, 8), generator=g, dtype=torch.uint8),
                "label": torch.randint(0, 19, (2, 8, 8), generator=g, dtype=torch.uint8), "domain": ["clear_day"] * 2, "augment": [""] * 2}


class Record(pl.Callback):
    def __init__(self) -> None:
        self.logged: list[int] = []  # steps whose train/loss reached callback_metrics in that step
        self.losses: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.losses[trainer.global_step] = float(pl_module.last_train_loss)
        value = trainer.callback_metrics.get("train/loss")
        if value is not None and float(value) == self.losses[trainer.global_step]:
            self.logged.append(trainer.global_step)


def fit(bar: bool) -> tuple[Record, list[str]]:
    cfg = compose("train", ["model=segformer_b0"])
    torch.manual_seed(0)
    net = SegNet(torch.nn.Conv2d(3, 19, 1), 19, stride=1)
    module = SegModule(net, instantiate(cfg.loss.fn), optim=dict(cfg.model.optim), scheduler=dict(cfg.model.scheduler), lr=1e-3, max_steps=5)
    record, lines = Record(), []
    handler = logging.Handler()
    handler.emit = lambda r: lines.append(r.getMessage())  # type: ignore[method-assign]
    logging.getLogger("prove_lightning.progress").addHandler(handler)
    try:
        trainer = pl.Trainer(accelerator="cpu", max_steps=5, log_every_n_steps=2, logger=False, enable_checkpointing=False,
                             enable_progress_bar=bar, enable_model_summary=False, limit_val_batches=0,
                             callbacks=[record, PlainProgress(every_n_steps=1, to_stdout=False)])
        trainer.fit(module, DataLoader(Batches(), batch_size=None))
    finally:
        logging.getLogger("prove_lightning.progress").removeHandler(handler)
    return record, lines


@pytest.mark.parametrize("bar", [False, True])
def test_train_loss_is_logged_where_it_is_read(bar: bool) -> None:
    record, lines = fit(bar)
    assert record.logged == ([1, 2, 3, 4, 5] if bar else [2, 4])  # global_step after the step; log_every_n_steps=2
    step_lines = [line for line in lines if line.startswith("step ")]
    assert len(step_lines) == 5
    for step, line in enumerate(step_lines, start=1):  # every line shows its own step's loss, logged or not
        assert f"loss {record.losses[step]:.4f}" in line, (step, line)
