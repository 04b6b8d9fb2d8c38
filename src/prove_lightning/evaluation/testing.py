"""Test a checkpoint per domain on one or more test sets; write metrics JSON, results-store rows, optional predictions."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from prove_lightning.config import instantiate
from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.labels import CITYSCAPES_CLASSES
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.metrics import metrics_from_confusion
from prove_lightning.evaluation.predictions import PredictionWriter
from prove_lightning.evaluation.results import ResultsStore
from prove_lightning.evaluation.testsets import TestSet, resolve_test_sets, test_set_from_config
from prove_lightning.io import atomic_write_json
from prove_lightning.runs.version import code_version


def config_hash(cfg: DictConfig) -> str:
    """Hash of the run's resolved config without paths, run location and invocation flags: same experiment, same hash."""
    node = OmegaConf.to_container(cfg, resolve=True)
    for key in ("paths", "run_dir", "hydra", "ckpt_path", "test_after_training"):
        node.pop(key, None)
    blob = json.dumps(node, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def class_names_of(cfg: DictConfig) -> list[str]:
    n = int(cfg.dataset.num_classes)
    return list(CITYSCAPES_CLASSES) if n == len(CITYSCAPES_CLASSES) else [str(i) for i in range(n)]


def build_module(cfg: DictConfig, test_dataset_names: Sequence[str] = ()) -> pl.LightningModule:
    from prove_lightning.optim import global_batch_size, scaled_lr

    net = instantiate(cfg.model.net)
    loss = instantiate(cfg.loss.fn)
    batch = global_batch_size(cfg.data.batch_size, cfg.trainer.get("devices", 1), cfg.trainer.get("num_nodes", 1))
    lr = scaled_lr(cfg.model.lr, batch, cfg.model.reference_batch_size, cfg.model.lr_scaling)
    module = instantiate(
        cfg.module,
        net=net,
        loss=loss,
        lr=lr,
        test_dataset_names=list(test_dataset_names),
        _convert_="all",
    )
    # set after building (a _target_ dict passed to instantiate would be instantiated): load_from_checkpoint rebuilds from these
    module.hparams.update(net_config=OmegaConf.to_container(cfg.model.net, resolve=True), loss_config=OmegaConf.to_container(cfg.loss.fn, resolve=True))
    return module


def load_weights(module: pl.LightningModule, ckpt_path: str | Path) -> int:
    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}; pass ckpt_path=<file> or run_dir=<run directory with checkpoints/>")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    module.load_state_dict(ckpt["state_dict"])
    return int(ckpt.get("global_step", -1))


def test_sets_of_datamodule(cfg: DictConfig, datamodule: pl.LightningDataModule) -> list[TestSet]:
    """The datamodule's test sources as TestSets (its own dataset keeps its config's prediction naming)."""
    own = test_set_from_config(cfg.dataset) if "source" in cfg.dataset else None
    out = []
    for src in datamodule.test_sources:
        base = own if own is not None and own.name == src.name else None
        out.append(
            TestSet(
                name=src.name,
                source=src,
                split=base.split if base else "test",
                pipeline=base.pipeline if base else None,
                batch_size=int(getattr(datamodule, "eval_batch_size", 1)),
                prediction_format=base.prediction_format if base else "trainids",
                prediction_name=base.prediction_name if base else "{domain}/{stem}.png",
            )
        )
    return out


def _train_code_version(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "version.json").read_text()).get("code_version")
    except (OSError, ValueError):
        return None


def test_checkpoint(
    cfg: DictConfig,
    ckpt_path: str | Path,
    datamodule: pl.LightningDataModule | None = None,
    store_root: str | Path | None = None,
    accelerator: str = "auto",
    progress: bool = True,
    test_sets: Sequence[TestSet] | None = None,
    save_predictions: bool = False,
    num_workers: int = 0,
    miou_convention: str | None = None,
) -> list[dict[str, Any]]:
    """Test one checkpoint on every test set; return one row per (test set, domain with images) plus 'all'.

    Test sets: ``test_sets`` if given, else the stage's ``test_datasets``, else those of ``datamodule``, else
    the run's own dataset (:func:`resolve_test_sets`). Writes ``run_dir/test/step_N/<test set>.json`` and, with
    ``save_predictions``, PNGs under ``run_dir/test/step_N/<test set>/pred/``; upserts rows into the store.
    """
    run_dir = Path(cfg.run_dir)
    if test_sets is None:
        if datamodule is not None and not OmegaConf.select(cfg, "stage.test_datasets", default=None):
            test_sets = test_sets_of_datamodule(cfg, datamodule)
            num_workers = num_workers or int(getattr(datamodule, "num_workers", 0))
        else:
            test_sets = resolve_test_sets(cfg)
    test_sets = list(test_sets)
    names = [t.name for t in test_sets]
    module = build_module(cfg, names)
    step = load_weights(module, ckpt_path)
    out_dir = run_dir / "test" / f"step_{step}"
    writer = PredictionWriter(out_dir, test_sets) if save_predictions else None
    module.test_prediction_hook = writer
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        inference_mode=True,
    )
    loaders = [t.dataloader(num_workers) for t in test_sets]
    trainer.test(module, dataloaders=loaders, verbose=False)
    module.test_prediction_hook = None
    cm = module.test_cm.cpu()
    convention = miou_convention or cfg.eval.miou_convention
    version = code_version()["code_version"]
    provenance = {
        "config_hash": config_hash(cfg),
        "code_version": version,
        "train_code_version": _train_code_version(run_dir),
        "ckpt_path": str(Path(ckpt_path).resolve()),
        "run_dir": str(run_dir),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    class_names = class_names_of(cfg)
    ratio = OmegaConf.select(cfg, "strategy.ratio", default=None)
    rows: list[dict[str, Any]] = []
    for t, ts in enumerate(test_sets):
        per_domain: dict[str, Any] = {}
        counts = {d: module.test_image_counts.get((t, d), 0) for d in DOMAINS}
        for d, dname in enumerate(DOMAINS):
            if counts[dname]:
                per_domain[dname] = metrics_from_confusion(cm[t, d], class_names, convention) | {"n_images": counts[dname]}
        per_domain["all"] = metrics_from_confusion(cm[t].sum(0), class_names, convention) | {"n_images": sum(counts.values())}
        record = {
            "checkpoint": provenance["ckpt_path"],
            "step": step,
            "test_dataset": ts.name,
            "test_split": ts.split,
            "miou_convention": convention,
            "inference": dict(module.inference),
            **{k: v for k, v in provenance.items() if k != "ckpt_path"},
            "test_set": ts.describe(),
            "predictions": writer.summary(t) if writer else None,
            "confusion_matrix": {d: cm[t, DOMAINS.index(d)].tolist() for d in per_domain if d != "all"},
            "domains": per_domain,
        }
        atomic_write_json(out_dir / f"{ts.name}.json", record)
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
                "test_dataset": ts.name,
                "domain": dname,
                "n_images": m["n_images"],
                "aAcc": m["aAcc"],
                "mIoU": m["mIoU"],
                "mAcc": m["mAcc"],
                "fwIoU": m["fwIoU"],
            }
            row.update({f"iou_{c}": v["IoU"] for c, v in m["per_class"].items()})
            row.update({f"acc_{c}": v["Acc"] for c, v in m["per_class"].items()})
            row.update({"n_pixels": m["n_pixels"], "n_classes_counted": m["n_classes_counted"], "miou_convention": convention})
            row.update({"test_split": ts.split, "inference": module.inference.get("mode", "whole"), **provenance})
            rows.append(row)
    if store_root is not None:
        ResultsStore(store_root).upsert(rows)
    return rows


def _rich_table(title: str, columns: list[str], body: list[list[str]]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i < 2 else "right")
    for r in body:
        table.add_row(*r)
    buf = StringIO()
    Console(file=buf, width=220, force_terminal=False).print(table)
    return buf.getvalue()


def _domains_in(rows: list[dict[str, Any]]) -> list[str]:
    return [d for d in (*DOMAINS, "all") if any(r["domain"] == d for r in rows)]


def _fmt(v: Any) -> str:
    return "-" if v is None or v != v else f"{v:.1f}"


def format_table(rows: list[dict[str, Any]], title: str = "", metric: str = "mIoU") -> str:
    """A per-domain table as text (rich): one line per (run, test set), one column per domain."""
    domains = _domains_in(rows)
    groups: dict[tuple, dict[str, float]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r["test_dataset"]), {})[r["domain"]] = r[metric]
    body = [[run, tset, *[_fmt(vals.get(d)) for d in domains]] for (run, tset), vals in groups.items()]
    return _rich_table(title, ["run", "test set", *domains], body)


def format_convergence(rows: list[dict[str, Any]], title: str = "", metric: str = "mIoU") -> str:
    """Convergence table: one line per (test set, checkpoint step), one column per domain."""
    domains = _domains_in(rows)
    groups: dict[tuple, dict[str, float]] = {}
    for r in rows:
        groups.setdefault((r["test_dataset"], int(r["step"])), {})[r["domain"]] = r[metric]
    body = [[tset, str(step), *[_fmt(vals.get(d)) for d in domains]] for (tset, step), vals in sorted(groups.items())]
    return _rich_table(title, ["test set", "step", *domains], body)
