"""Experiment loggers (conf/logger/*): what every one of them receives, whichever the user picked.

- the run identity and main settings as hyperparameters (:func:`run_hparams`), once per attempt;
- the final test metrics per test set and domain (:func:`log_test_rows`);
- images (the validation prediction grid) where the logger takes images (:func:`log_image`).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from prove_lightning.config import instantiate
from prove_lightning.evaluation.visualize import log_image  # noqa: F401 - re-exported: loggers take images too


def _cfg(config: DictConfig | Mapping[str, Any]) -> DictConfig:
    return config if isinstance(config, DictConfig) else OmegaConf.create(dict(config))


def build_loggers(cfg: DictConfig | Mapping[str, Any]) -> list[Any]:
    """The loggers of ``cfg.logger`` (logger=null / none: no logger at all)."""
    node = OmegaConf.select(_cfg(cfg), "logger", default=None)
    if not node:
        return []
    return [instantiate(c) for c in node.values() if c is not None]


def run_hparams(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """Flat, scalar-valued: what identifies the run and the settings a reader compares runs by."""
    cfg = _cfg(cfg)
    sel = lambda key, default=None: OmegaConf.select(cfg, key, default=default)  # noqa: E731
    values = {
        "run_id": sel("run_relpath"),
        "stage": sel("stage.name"),
        "strategy": sel("strategy.name"),
        "augment": sel("augment.name"),
        "dataset": sel("dataset.name"),
        "model": sel("model.name"),
        "loss": sel("loss.name"),
        "ratio": sel("strategy.ratio", 1.0),
        "seed": sel("seed"),
        "max_steps": sel("trainer.max_steps"),
        "batch_size": sel("data.batch_size"),
        "lr": sel("model.lr"),
        "lr_scaling": sel("model.lr_scaling"),
        "optimizer": sel("model.optim.name"),
        "precision": sel("trainer.precision"),
        "devices": sel("trainer.devices"),
        "pretrained": sel("model.pretrained"),
        "inference": sel("model.inference.mode"),
        "miou_convention": sel("eval.miou_convention"),
    }
    try:
        from prove_lightning.runs.version import code_version

        values["code_version"] = code_version().get("code_version")
    except Exception:  # noqa: BLE001 - no git: the hyperparameters still go out
        pass
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in values.items() if v is not None}


def log_hparams(loggers: Iterable[Any], cfg: DictConfig | Mapping[str, Any]) -> None:
    hp = run_hparams(cfg)
    for lg in loggers:
        lg.log_hyperparams(hp)


def test_metrics(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """test/<test set>/<metric>_<domain> for every row of evaluation.testing.test_checkpoint (NaN left out)."""
    out: dict[str, float] = {}
    for r in rows:
        for key in ("mIoU", "aAcc", "mAcc"):
            value = r.get(key)
            if isinstance(value, (int, float)) and not math.isnan(value):
                out[f"test/{r['test_dataset']}/{key}_{r['domain']}"] = float(value)
    return out


def log_test_rows(loggers: Iterable[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Send the final test metrics to every logger and flush it (the loggers were finalized after fit)."""
    metrics = test_metrics(rows)
    if not metrics:
        return
    step = int(rows[0].get("step", 0))
    for lg in loggers:
        lg.log_metrics(metrics, step=step)
        lg.finalize("success")

