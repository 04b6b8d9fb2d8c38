"""Test a checkpoint per domain on one or more test sets; write metrics JSON and results-store rows."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
from prove_lightning.config import instantiate
from omegaconf import DictConfig, OmegaConf

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.labels import CITYSCAPES_CLASSES
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.metrics import metrics_from_confusion
from prove_lightning.evaluation.results import ResultsStore
from prove_lightning.io import atomic_write_json
from prove_lightning.runs.version import code_version


def config_hash(cfg: DictConfig) -> str:
    blob = OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def build_module(cfg: DictConfig, test_dataset_names: Sequence[str] = ()) -> pl.LightningModule:
    from prove_lightning.optim import global_batch_size, scaled_lr

    net = instantiate(cfg.model.net)
    loss = instantiate(cfg.loss.fn)
    batch = global_batch_size(cfg.data.batch_size, cfg.trainer.get("devices", 1), cfg.trainer.get("num_nodes", 1))
    lr = scaled_lr(cfg.model.lr, batch, cfg.model.reference_batch_size, cfg.model.lr_scaling)
    return instantiate(
        cfg.module,
        net=net,
        loss=loss,
        lr=lr,
        test_dataset_names=list(test_dataset_names),
        _convert_="all",
    )


def load_weights(module: pl.LightningModule, ckpt_path: str | Path) -> int:
    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}; pass ckpt_path=<file> or run_dir=<run directory with checkpoints/>")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    module.load_state_dict(ckpt["state_dict"])
    return int(ckpt.get("global_step", -1))


def test_checkpoint(
    cfg: DictConfig,
    ckpt_path: str | Path,
    datamodule: pl.LightningDataModule | None = None,
    store_root: str | Path | None = None,
    accelerator: str = "auto",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the test loop on every test set of ``datamodule`` and return one row per (test set, domain) plus 'all'."""
    run_dir = Path(cfg.run_dir)
    if datamodule is None:
        datamodule = instantiate(cfg.data)
    names = datamodule.test_dataset_names
    module = build_module(cfg, names)
    step = load_weights(module, ckpt_path)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        inference_mode=True,
    )
    trainer.test(module, datamodule=datamodule, verbose=False)
    cm = module.test_cm.cpu()
    convention = cfg.eval.miou_convention
    version = code_version()
    chash = config_hash(cfg)
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    rows: list[dict[str, Any]] = []
    class_names = list(CITYSCAPES_CLASSES) if cfg.dataset.num_classes == len(CITYSCAPES_CLASSES) else [str(i) for i in range(cfg.dataset.num_classes)]
    ratio = OmegaConf.select(cfg, "strategy.ratio", default=None)
    for t, tname in enumerate(names):
        per_domain: dict[str, Any] = {}
        counts = {d: module.test_image_counts.get((t, d), 0) for d in DOMAINS}
        for d, dname in enumerate(DOMAINS):
            if counts[dname] == 0:
                continue
            per_domain[dname] = metrics_from_confusion(cm[t, d], class_names, convention) | {"n_images": counts[dname]}
        per_domain["all"] = metrics_from_confusion(cm[t].sum(0), class_names, convention) | {"n_images": sum(counts.values())}
        out = {
            "checkpoint": str(Path(ckpt_path).resolve()),
            "step": step,
            "test_dataset": tname,
            "miou_convention": convention,
            "code_version": version["code_version"],
            "config_hash": chash,
            "time": now,
            "domains": per_domain,
        }
        atomic_write_json(run_dir / "test" / f"step_{step}" / f"{tname}.json", out)
        for dname, m in per_domain.items():
            row = {
                "run_id": str(cfg.run_relpath),
                "stage": cfg.stage.name,
                "strategy": cfg.strategy.name,
                "augment": cfg.augment.name,
                "dataset": cfg.dataset.name,
                "model": cfg.model.name,
                "ratio": ratio if ratio is not None else 1.0,
                "loss": cfg.loss.name,
                "seed": cfg.seed,
                "step": step,
                "test_dataset": tname,
                "domain": dname,
                "n_images": m["n_images"],
                "aAcc": m["aAcc"],
                "mIoU": m["mIoU"],
                "mAcc": m["mAcc"],
                "fwIoU": m["fwIoU"],
            }
            row.update({f"iou_{c}": v["IoU"] for c, v in m["per_class"].items()})
            row.update({f"acc_{c}": v["Acc"] for c, v in m["per_class"].items()})
            row.update(
                {
                    "n_pixels": m["n_pixels"],
                    "miou_convention": convention,
                    "config_hash": chash,
                    "code_version": version["code_version"],
                    "ckpt_path": str(Path(ckpt_path).resolve()),
                    "run_dir": str(run_dir),
                    "time": now,
                }
            )
            rows.append(row)
    if store_root is not None:
        ResultsStore(store_root).upsert(rows)
    return rows


def format_table(rows: list[dict[str, Any]], title: str = "") -> str:
    """A per-domain mIoU table as text (rich), one column per domain."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    domains = [d for d in (*DOMAINS, "all") if any(r["domain"] == d for r in rows)]
    table = Table(title=title or None)
    table.add_column("run")
    table.add_column("test set")
    for d in domains:
        table.add_column(d, justify="right")
    groups: dict[tuple, dict[str, float]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r["test_dataset"]), {})[r["domain"]] = r["mIoU"]
    for (run, tset), vals in groups.items():
        table.add_row(run, tset, *[f"{vals[d]:.1f}" if d in vals else "-" for d in domains])
    buf = StringIO()
    Console(file=buf, width=200, force_terminal=False).print(table)
    return buf.getvalue()


