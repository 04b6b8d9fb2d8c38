"""Train one run: compose config -> pre-flight -> lock -> build parts from _target_ -> fit (resuming) -> test.

    python -m prove_lightning.train stage=s1 strategy=baseline model=segformer_b3 dataset=toycity
    python -m prove_lightning.train -m sweep=s1 [hydra/launcher=submitit_slurm]   # a study's whole grid
    python -m prove_lightning.train --help            # config groups and options

Pre-flight (runs/preflight.py) skips a run whose final checkpoint is tested, only tests one that is trained
but untested, and skips gen_* runs without generated images for the dataset (an error for a single run, a
skip inside a sweep). A run directory is locked while a job works on it: a second launch of the same run
exits with status 75 (single run) or is skipped (sweep).
"""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from prove_lightning.cli_errors import user_errors
from prove_lightning.config import CONF_DIR, instantiate
from prove_lightning.errors import ConfigError
from prove_lightning.io import atomic_write_json, atomic_write_text
from prove_lightning.runs.joblog import run_context
from prove_lightning.runs.locks import EXIT_LOCKED, RunLock, RunLocked
from prove_lightning.runs.preflight import DONE, LOCKED, NO_GENERATED, NO_SOURCE, Check, check_run
from prove_lightning.runs.stage import apply_test_sets, final_checkpoint
from prove_lightning.runs.version import code_version

# torch / Lightning are imported where a run is really built: a job that pre-flight skips stays cheap
if TYPE_CHECKING:
    import pytorch_lightning as pl

log = logging.getLogger("prove_lightning.train")


def validate(cfg: DictConfig) -> None:
    if int(cfg.trainer.max_steps) <= 0:
        raise ConfigError(f"trainer.max_steps must be a positive number of steps, got {cfg.trainer.max_steps}")
    if int(cfg.trainer.val_check_interval) <= 0:
        raise ConfigError(f"trainer.val_check_interval must be > 0, got {cfg.trainer.val_check_interval}")
    if int(cfg.data.batch_size) <= 0:
        raise ConfigError(f"data.batch_size must be > 0, got {cfg.data.batch_size}")


def find_resume_checkpoint(cfg: DictConfig, run_dir: Path, check: Check | None = None) -> str | None:
    """ckpt_path if given, else the run's own last.ckpt, else (extended stages) the source run's final checkpoint."""
    if cfg.ckpt_path:
        if not Path(cfg.ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={cfg.ckpt_path} does not exist; drop it to resume from {run_dir}/checkpoints/last.ckpt")
        return str(cfg.ckpt_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        return str(last)
    if check is not None and check.source is not None and check.source.mode == "extend":
        return str(check.source.final_ckpt)
    return None


def save_run_files(cfg: DictConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_json(run_dir / "version.json", code_version())


def build_trainer(cfg: DictConfig, callbacks: list[Any] | None = None) -> pl.Trainer:
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from prove_lightning.runs.checkpoint_io import AtomicCheckpointIO

    from prove_lightning.runs.loggers import build_loggers, log_hparams
    from prove_lightning.runs.progress import wants_plain_progress

    callbacks = (callbacks or []) + [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = build_loggers(cfg)
    log_hparams(loggers, cfg)
    overrides: dict[str, Any] = {}
    if wants_plain_progress(callbacks):  # stdout is a file or a pipe: plain lines instead of the live bar
        overrides["enable_progress_bar"] = False
    if cfg.trainer.val_check_interval > cfg.trainer.max_steps:
        overrides["val_check_interval"] = int(cfg.trainer.max_steps)
    plugins: list[Any] = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        # requeueing is submitit's job (or the scheduler's); callbacks.preemption saves last.ckpt for it
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins, default_root_dir=cfg.run_dir, **overrides
    )


def run_training(cfg: DictConfig, extra_callbacks: list[Any] | None = None, in_sweep: bool = False) -> dict[str, Any]:
    """The whole run; returns {'run_dir', 'final_ckpt', 'test_rows', 'status', 'detail'}.

    ``in_sweep``: part of a multirun, where a run that cannot or need not run is skipped with a log line;
    alone, a run without generated images or source run is an error and a locked run raises RunLocked.
    """
    validate(cfg)
    run_dir = Path(cfg.run_dir).resolve()
    OmegaConf.update(cfg, "run_dir", str(run_dir), force_add=True)
    apply_test_sets(cfg)
    pre = cfg.get("preflight") or {}
    check = check_run(cfg, check_lock=False)
    result: dict[str, Any] = {
        "run_dir": run_dir, "final_ckpt": final_checkpoint(run_dir, cfg), "test_rows": [], "status": check.status, "detail": check.detail,
    }
    if _skip(cfg, check, in_sweep):
        return result
    lock = RunLock(run_dir, str(cfg.run_relpath), pre.get("lock_stale_after_s", 900), pre.get("lock_heartbeat_s", 60)) if pre.get("lock", True) else nullcontext()
    try:
        with lock:
            check = check_run(cfg, check_lock=False)  # again under the lock: another job may just have finished it
            result.update(status=check.status, detail=check.detail)
            if _skip(cfg, check, in_sweep):
                return result
            took_over = getattr(lock, "took_over", None)
            with run_context(run_dir, cfg.get("paths")):  # logs/train.log, logs/error.log, logs/jobs.jsonl, file modes
                result.update(_execute(cfg, run_dir, check, extra_callbacks, took_over))
    except RunLocked as err:
        if not in_sweep:
            raise
        log.warning("skipping %s: %s", cfg.run_relpath, err)
        result.update(status=LOCKED, detail=str(err))
    return result


def _skip(cfg: DictConfig, check: Check, in_sweep: bool) -> bool:
    if check.action != "skip":
        return False
    if check.status == DONE and not (cfg.get("preflight") or {}).get("skip_done", True):
        return False
    if check.status in (NO_GENERATED, NO_SOURCE) and not in_sweep:
        fix = "build the manifest first (prove manifest build) or pick another strategy" if check.status == NO_GENERATED else "run the source stage first"
        raise ConfigError(f"{cfg.run_relpath}: {check.detail}; {fix}")
    log.warning("skipping %s: %s (%s)", cfg.run_relpath, check.status, check.detail)
    print(f"{cfg.run_relpath}: {check.status}, nothing to do ({check.detail})")
    return True


def _execute(cfg: DictConfig, run_dir: Path, check: Check, extra_callbacks: list[Any] | None, took_over: str | None) -> dict[str, Any]:
    """Build the parts and do what pre-flight decided: train (+ test), test only, or evaluate a source run."""
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from prove_lightning.data.augment import describe_hooks
    from prove_lightning.evaluation.testing import build_module, format_table, test_checkpoint
    from prove_lightning.runs.audit import PipelineAudit
    from prove_lightning.runs.extend import ScheduleHorizon, apply_extension
    from prove_lightning.runs.loggers import build_loggers, log_test_rows
    from prove_lightning.runs.preempt import EXIT_PREEMPTED

    action = "test" if check.status == DONE else check.action
    callbacks = list(extra_callbacks or [])
    extension = None
    if check.source is not None and check.source.mode == "extend":
        extension = apply_extension(cfg, check.source)
        callbacks.append(ScheduleHorizon())
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.index()
    if action != "test":  # a test-only job keeps the training run's config.yaml and audit.json as they are
        save_run_files(cfg, run_dir)
        static = datamodule.describe() | {"preflight": {"status": check.status, "action": action, "detail": check.detail, "took_over_lock": took_over}}
        if extension:
            static["extension"] = extension
        if action != "train":
            atomic_write_json(run_dir / "audit.json", static)
    max_steps = int(cfg.trainer.max_steps)
    final = run_dir / "checkpoints" / f"step_{max_steps}.ckpt"
    out: dict[str, Any] = {"final_ckpt": final, "test_rows": []}
    if action == "evaluate":
        final = check.source.final_ckpt  # type: ignore[union-attr]
    elif action == "train":
        module = build_module(cfg, datamodule.test_dataset_names)
        # what the data pipeline is set up to do, plus (filled while training) what the loaded batches held
        static["batch_augment"] = describe_hooks(getattr(module, "batch_hooks", []))
        audit = PipelineAudit(run_dir / "audit.json", static, expected_real=datamodule.mixing.expected_real)
        resume = find_resume_checkpoint(cfg, run_dir, check)
        if not resume:
            audit.write()  # a resumed run rewrites it once its counters are restored (on_fit_start)
        trainer = build_trainer(cfg, [audit, *callbacks])
        if resume:
            log.info("resuming from %s", resume)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
        except SIGTERMException:
            log.warning("%s stopped by SIGTERM at step %d; checkpoints/last.ckpt holds it", cfg.run_relpath, trainer.global_step)
            raise SystemExit(EXIT_PREEMPTED) from None
        if trainer.global_step >= max_steps and not final.is_file():
            trainer.save_checkpoint(final)
    if cfg.test_after_training and final.is_file():
        rows = test_checkpoint(cfg, final, datamodule=datamodule, store_root=cfg.paths.output_root, accelerator=cfg.trainer.accelerator, progress=sys.stdout.isatty())
        print(format_table(rows, title=f"{cfg.run_relpath} @ step {rows[0]['step'] if rows else max_steps}: mIoU per domain"))
        out["test_rows"] = rows
        log_test_rows(trainer.loggers if action == "train" else build_loggers(cfg), rows)
        out["status"] = DONE
    return out


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a sweep job returns to its launcher (small and picklable)."""
    return {"run_dir": str(result["run_dir"]), "status": result.get("status"), "detail": result.get("detail"), "n_rows": len(result["test_rows"])}


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    with user_errors():
        try:
            return summary(run_training(cfg, in_sweep=in_sweep))
        except RunLocked as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_LOCKED) from None


if __name__ == "__main__":
    from prove_lightning.config import null_groups

    sys.argv[1:] = null_groups(sys.argv[1:])  # logger=null / callbacks=null: Hydra only understands ~logger
    main()
