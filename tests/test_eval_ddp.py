"""Validation metrics under DDP (2 CPU processes, gloo): confusion counts are summed over ranks by
trainer.strategy.reduce, and DistributedSampler's padded repeat of sample 0 is not counted twice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from prove_lightning.evaluation.metrics import compute_metrics
from prove_lightning.module import SegModule

pytestmark = pytest.mark.slow

DOMAINS5 = ["clear_day", "night", "clear_day", "foggy", "night"]  # 5 images on 2 ranks: sample 0 is padded in again
C = 5


class TinySet(Dataset):
    def __len__(self) -> int:
        return len(DOMAINS5)

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng(i)
        label = rng.integers(0, C, (12, 20))
        label[:2] = 255
        return {
            "image": torch.from_numpy(rng.integers(0, 256, (3, 12, 20), dtype=np.uint8)),
            "label": torch.from_numpy(label),
            "domain": DOMAINS5[i],
            "index": i,
        }


def pointwise() -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, C, 1)


def module() -> SegModule:
    return SegModule(
        net=pointwise(), loss=nn.CrossEntropyLoss(ignore_index=255), optim={"name": "adamw"}, scheduler={},
        lr=1e-3, max_steps=1, num_classes=C, class_names=[f"c{i}" for i in range(C)],
    )


class DumpValResults(pl.Callback):
    def __init__(self, path: str) -> None:
        self.path = path

    def on_validation_end(self, trainer: pl.Trainer, pl_module: SegModule) -> None:
        if trainer.global_rank == 0:
            Path(self.path).write_text(json.dumps(pl_module.val_results, default=float))


def validate(devices: int, strategy: str, out: Path) -> dict:
    trainer = pl.Trainer(
        accelerator="cpu", devices=devices, strategy=strategy, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[DumpValResults(str(out))],
    )
    trainer.validate(module(), dataloaders=DataLoader(TinySet(), batch_size=2), verbose=False)
    return json.loads(out.read_text())


def test_two_rank_validation_equals_one_process_and_an_independent_count(tmp_path: Path) -> None:
    one = validate(1, "auto", tmp_path / "one.json")
    two = validate(2, "ddp_spawn", tmp_path / "two.json")
    # independent: every image once, predictions from the same pointwise net
    net, ds = module(), TinySet()
    with torch.no_grad():
        preds = [net.predict(ds[i]["image"][None], (12, 20))[0].numpy() for i in range(len(ds))]
    ref = compute_metrics(preds, [ds[i]["label"].numpy() for i in range(len(ds))], num_classes=C, class_names=[f"c{i}" for i in range(C)])
    assert one["all"]["n_images"] == two["all"]["n_images"] == 5
    assert {d: two[d]["n_images"] for d in two} == {"all": 5, "clear_day": 2, "night": 2, "foggy": 1}
    assert two["all"]["n_pixels"] == one["all"]["n_pixels"] == ref["n_pixels"] == 5 * 10 * 20
    for d in one:
        for k in ("mIoU", "aAcc", "mAcc", "fwIoU"):
            assert two[d][k] == pytest.approx(one[d][k], rel=1e-12), (d, k)
    assert two["all"]["mIoU"] == pytest.approx(ref["mIoU"], rel=1e-12)
