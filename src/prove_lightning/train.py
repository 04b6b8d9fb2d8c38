"""Train one run: compose config -> build parts from _target_ -> fit (resuming if the run has checkpoints) -> test.

    python -m prove_lightning.train stage=s1 strategy=baseline model=segformer_b3 dataset=toycity
    python -m prove_lightning.train --help            # config groups and options
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from prove_lightning.config import instantiate
from omegaconf import DictConfig, OmegaConf

from prove_lightning.cli_errors import user_errors
from prove_lightning.config import CONF_DIR
from prove_lightning.data.augment import describe_hooks
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.testing import build_module, format_table, test_checkpoint
from prove_lightning.io import atomic_write_json, atomic_write_text
from prove_lightning.runs.audit import PipelineAudit
from prove_lightning.runs.checkpoint_io import AtomicCheckpointIO
from prove_lightning.runs.version import code_version

log = logging.getLogger("prove_lightning.train")


def validate(cfg: DictConfig) -> None:
    if int(cfg.trainer.max_steps) <= 0:
        raise ConfigError(f"trainer.max_steps must be a positive number of steps, got {cfg.trainer.max_steps}")
    if int(cfg.trainer.val_check_interval) <= 0:
        raise ConfigError(f"trainer.val_check_interval must be > 0, got {cfg.trainer.val_check_interval}")
    if int(cfg.data.batch_size) <= 0:
        raise ConfigError(f"data.batch_size must be > 0, got {cfg.data.batch_size}")


def find_resume_checkpoint(cfg: DictConfig, run_dir: Path) -> str | None:
    if cfg.ckpt_path:
        if not Path(cfg.ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={cfg.ckpt_path} does not exist; drop it to resume from {run_dir}/checkpoints/last.ckpt")
        return str(cfg.ckpt_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    return str(last) if last.is_file() else None


def save_run_files(cfg: DictConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_json(run_dir / "version.json", code_version())


def build_trainer(cfg: DictConfig, callbacks: list[Any] | None = None) -> pl.Trainer:
    callbacks = (callbacks or []) + [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    overrides: dict[str, Any] = {}
    if cfg.trainer.val_check_interval > cfg.trainer.max_steps:
        overrides["val_check_interval"] = int(cfg.trainer.max_steps)
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()], **overrides)


def run_training(cfg: DictConfig, extra_callbacks: list[Any] | None = None) -> dict[str, Any]:
    """The whole run; returns {'run_dir', 'final_ckpt', 'test_rows'} for callers such as the demo and tests."""
    validate(cfg)
    run_dir = Path(cfg.run_dir).resolve()
    OmegaConf.update(cfg, "run_dir", str(run_dir), force_add=True)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.index()
    module = build_module(cfg, datamodule.test_dataset_names)
    save_run_files(cfg, run_dir)
    # what the data pipeline is set up to do, plus (filled while training) what the loaded batches held
    static = datamodule.describe() | {"batch_augment": describe_hooks(getattr(module, "batch_hooks", []))}
    audit = PipelineAudit(run_dir / "audit.json", static, expected_real=datamodule.mixing.expected_real)
    resume = find_resume_checkpoint(cfg, run_dir)
    if not resume:
        audit.write()  # a resumed run rewrites it once its counters are restored (on_fit_start)
    trainer = build_trainer(cfg, [audit, *(extra_callbacks or [])])
    if resume:
        log.info("resuming from %s", resume)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    max_steps = int(cfg.trainer.max_steps)
    final = run_dir / "checkpoints" / f"step_{max_steps}.ckpt"
    if trainer.global_step >= max_steps and not final.is_file():
        trainer.save_checkpoint(final)
    result: dict[str, Any] = {"run_dir": run_dir, "final_ckpt": final, "test_rows": []}
    if cfg.test_after_training and final.is_file():
        rows = test_checkpoint(cfg, final, datamodule=datamodule, store_root=cfg.paths.output_root, accelerator=cfg.trainer.accelerator)
        print(format_table(rows, title=f"{cfg.run_relpath} @ step {max_steps}: mIoU per domain"))
        result["test_rows"] = rows
    return result


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with user_errors():
        run_training(cfg)


if __name__ == "__main__":
    main()
