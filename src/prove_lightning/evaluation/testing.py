"""Test a built module on test sets per domain: run the test loop, turn its confusion matrices into metrics,
records (the per-test-set JSON) and result rows. What to test and where to write is tasks/test_run.py's job."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import pytorch_lightning as pl
import torch

from prove_lightning.data.domains import DOMAINS
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.metrics import metrics_from_confusion
from prove_lightning.evaluation.testsets import TestSet
from prove_lightning.io import gc_paused
from prove_lightning.labelspace import CITYSCAPES_CLASSES


def class_names_for(num_classes: int) -> list[str]:
    n = int(num_classes)
    return list(CITYSCAPES_CLASSES) if n == len(CITYSCAPES_CLASSES) else [str(i) for i in range(n)]


def load_weights(module: pl.LightningModule, ckpt_path: str | Path) -> int:
    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}; pass ckpt_path=<file> or run_dir=<run directory with checkpoints/>")
    from prove_lightning.runs.checkpoints import check_or_raise

    check_or_raise(path, module, option="checkpoint")  # truncated, non-finite or another model's: one clear error
    with gc_paused():  # io.gc_paused: seconds of GC passes otherwise
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    module.load_state_dict(ckpt["state_dict"])
    return int(ckpt.get("global_step", -1))


def run_test_loop(module: pl.LightningModule, test_sets: Sequence[TestSet], accelerator: str = "auto", progress: bool = True, num_workers: int = 0, hook: Any = None) -> None:
    """One Lightning test pass over every test set; leaves module.test_cm and module.test_image_counts."""
    module.test_prediction_hook = hook
    from prove_lightning.runs.ddp import single_process_plugins

    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        plugins=single_process_plugins(),  # rank 0 tests alone, also inside a multi-task job
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        inference_mode=True,
    )
    loaders = [t.dataloader(num_workers) for t in test_sets]
    trainer.test(module, dataloaders=loaders, verbose=False)
    module.test_prediction_hook = None


def per_domain_metrics(module: pl.LightningModule, t: int, class_names: Sequence[str], convention: str) -> tuple[dict[str, Any], torch.Tensor]:
    """Metrics of test set ``t`` per domain with images, plus 'all'; and that test set's confusion matrices."""
    cm = module.test_cm.cpu()
    counts = {d: module.test_image_counts.get((t, d), 0) for d in DOMAINS}
    per_domain: dict[str, Any] = {}
    for d, dname in enumerate(DOMAINS):
        if counts[dname]:
            per_domain[dname] = metrics_from_confusion(cm[t, d], list(class_names), convention) | {"n_images": counts[dname]}
    per_domain["all"] = metrics_from_confusion(cm[t].sum(0), list(class_names), convention) | {"n_images": sum(counts.values())}
    return per_domain, cm[t]


def result_rows(identity: Mapping[str, Any], step: int, ts: TestSet, per_domain: Mapping[str, Any], convention: str, inference_mode: str, provenance: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One results-store row per domain (identity columns first, as results.LEAD_COLUMNS)."""
    rows = []
    for dname, m in per_domain.items():
        row = {
            **identity,
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
        row.update({"test_split": ts.split, "inference": inference_mode, **provenance})
        rows.append(row)
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
