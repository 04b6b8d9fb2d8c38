"""Validate and test a run's checkpoint on N processes (Lightning DDP, CPU, gloo); rank 0 writes the metrics.

    python tests/slurm/ddp_eval.py <run_dir> <ckpt> <devices> <out.json>

Lightning's subprocess launcher starts ranks 1..N-1 by re-running this command line. The datamodule's own
val/test loaders shard by rank (ShardSampler); SegModule sums confusion counts over ranks before metrics.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import OmegaConf

from prove_lightning.config import instantiate
from prove_lightning.data.domains import DOMAINS
from prove_lightning.evaluation.metrics import metrics_from_confusion
from prove_lightning.evaluation.testing import class_names_for, load_weights
from prove_lightning.tasks.parts import build_module


def evaluate(run_dir: str, ckpt: str, devices: int) -> dict | None:
    cfg = OmegaConf.load(Path(run_dir) / "config.yaml")
    datamodule = instantiate(cfg.data)
    datamodule.index()
    module = build_module(OmegaConf.to_container(cfg, resolve=True), datamodule.test_dataset_names)
    load_weights(module, ckpt)
    trainer = pl.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
    )
    trainer.validate(module, datamodule=datamodule, verbose=False)
    val = module.val_results
    trainer.test(module, datamodule=datamodule, verbose=False)
    if trainer.global_rank != 0:
        return None
    cm, names = module.test_cm.cpu(), class_names_for(int(cfg.dataset.num_classes))
    test = {}
    for t, name in enumerate(datamodule.test_dataset_names):
        counts = {d: module.test_image_counts.get((t, d), 0) for d in DOMAINS}
        test[name] = {d: metrics_from_confusion(cm[t, i], names, "union") | {"n_images": counts[d]} for i, d in enumerate(DOMAINS) if counts[d]}
        test[name]["all"] = metrics_from_confusion(cm[t].sum(0), names, "union") | {"n_images": sum(counts.values())}
    return {"world_size": trainer.world_size, "val": val, "test": test}


if __name__ == "__main__":
    out = evaluate(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    if out is not None:
        Path(sys.argv[4]).write_text(json.dumps(out, default=float))
