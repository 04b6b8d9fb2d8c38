"""One training job: pre-flight -> lock -> build parts -> fit (resuming) -> test on the stage's test sets.

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
from typing import Any

from omegaconf import DictConfig, OmegaConf

from prove_lightning.config import instantiate
from prove_lightning.errors import ConfigError, DivergedError
from prove_lightning.io import atomic_write_json, atomic_write_text
from prove_lightning.runs.joblog import run_context
from prove_lightning.runs.locks import RunLock, RunLocked
from prove_lightning.runs import ddp
from prove_lightning.runs import status as run_status
from prove_lightning.runs.preflight import CONFLICT, DONE, FAILED, LOCKED, NO_GENERATED, NO_SOURCE, Check, check_run
from prove_lightning.runs.ranks import Decider, detect_role
from prove_lightning.runs.spec import RunSpec
from prove_lightning.runs.version import code_version
from prove_lightning.tasks.spec import build_run_spec
from prove_lightning.tasks.store import results_index

log = logging.getLogger("prove_lightning.train")


def find_resume_checkpoint(spec: RunSpec, check: Check | None = None, module: Any = None) -> str | None:
    """ckpt_path if given, else the run's newest valid own checkpoint, else (extended stages) the source run's final one.

    Every checkpoint is checked first (runs/checkpoints.py): a bad own one is moved aside, a bad named one is an error.
    """
    from prove_lightning.runs import checkpoints

    if spec.ckpt_path:
        if not Path(spec.ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={spec.ckpt_path} does not exist; drop it to resume from {spec.run_dir.last_ckpt}")
        checkpoints.check_or_raise(spec.ckpt_path, module)
        return spec.ckpt_path
    own = checkpoints.resume_checkpoint(spec.run_dir.path, module)
    if own:
        return own
    if check is not None and check.source is not None and check.source.mode == "extend":
        checkpoints.check_or_raise(check.source.final_ckpt, module, option=f"source run checkpoint ({check.source.stage})")
        return str(check.source.final_ckpt)
    return None


def save_run_files(spec: RunSpec) -> None:
    """config.yaml, identity.json, version.json. A recorded config.yaml is rewritten only for a deliberate
    change (allow_config_change=true), which history.jsonl records; pre-flight stopped every other one."""
    from prove_lightning.runs.identity import differences, record

    spec.run_dir.path.mkdir(parents=True, exist_ok=True)
    changes = differences(spec) if spec.run_dir.config_yaml.is_file() else None
    if changes is None or changes:
        atomic_write_text(spec.run_dir.config_yaml, OmegaConf.to_yaml(OmegaConf.create(dict(spec.config))))
    if changes is None or changes or not spec.run_dir.identity_json.is_file():
        record(spec, changes)
    atomic_write_json(spec.run_dir.version_json, code_version())
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():  # the launch's command-line overrides (Hydra writes no .hydra/: conf/hydra/default.yaml)
        atomic_write_text(spec.run_dir.path / "overrides.yaml", OmegaConf.to_yaml(HydraConfig.get().overrides.task))


def run_training(cfg: DictConfig | RunSpec, extra_callbacks: list[Any] | None = None, in_sweep: bool = False) -> dict[str, Any]:
    """The whole run; returns {'run_dir', 'final_ckpt', 'test_rows', 'status', 'detail'}.

    ``in_sweep``: part of a multirun, where a run that cannot or need not run is skipped with a log line;
    alone, a run without generated images or source run is an error and a locked run raises RunLocked.
    """
    spec = cfg if isinstance(cfg, RunSpec) else build_run_spec(cfg)
    role = detect_role()
    if not role.decides:  # rank 0 decides and does the bookkeeping (runs/ranks.py); this rank only joins the training
        from prove_lightning.runs.follow import follow

        return follow(spec, role, lambda check, decision: _execute(spec, check, extra_callbacks, None, decision=decision))
    with Decider(role, spec.run_dir.path, ddp.devices_per_node(spec.config)) as decider:
        return _decide_and_run(spec, extra_callbacks, in_sweep, decider)


def _decide_and_run(spec: RunSpec, extra_callbacks: list[Any] | None, in_sweep: bool, decider: Decider) -> dict[str, Any]:
    pre = spec.preflight
    check = check_run(spec, results_index(spec.output_root), check_lock=False)
    result: dict[str, Any] = {
        "run_dir": spec.run_dir.path, "final_ckpt": spec.final_ckpt, "test_rows": [], "status": check.status, "detail": check.detail,
    }
    if _skip(spec, check, in_sweep):
        return result
    lock = RunLock(spec.run_dir.path, spec.run_id, pre.get("lock_stale_after_s", 900), pre.get("lock_heartbeat_s", 60)) if pre.get("lock", True) else nullcontext()
    try:
        with lock:
            # again under the lock: another job may just have finished it
            check = check_run(spec, results_index(spec.output_root), check_lock=False)
            result.update(status=check.status, detail=check.detail)
            if _skip(spec, check, in_sweep):
                return result
            took_over = getattr(lock, "took_over", None)
            if pre.get("retry_failed", False):
                run_status.clear(spec.run_dir.path)
            with run_context(spec.run_dir.path, spec.config.get("paths")):  # logs/train.log, error.log, jobs.jsonl, file modes
                result.update(_execute(spec, check, extra_callbacks, took_over, decider=decider))
    except RunLocked as err:
        if not in_sweep:
            raise
        log.warning("skipping %s: %s", spec.run_id, err)
        result.update(status=LOCKED, detail=str(err))
    except DivergedError as err:
        if not in_sweep:
            raise
        log.error("%s: %s", spec.run_id, err)  # the sweep goes on with its next run
        result.update(status=FAILED, detail=str(err))
    return result


def _skip(spec: RunSpec, check: Check, in_sweep: bool) -> bool:
    if check.action != "skip":
        return False
    if check.status == DONE and not spec.preflight.get("skip_done", True):
        return False
    if check.status == CONFLICT and not in_sweep:
        raise ConfigError(
            f"{spec.run_id}: {check.detail}. A run directory holds one run: give this one its own place "
            f"(debug=fast for a smoke run, another paths.output_root), delete {spec.run_dir.path} to start over, or "
            f"continue it with the new settings by allow_config_change=true (recorded in {spec.run_dir.history.name})"
        )
    if check.status == FAILED and not in_sweep:
        raise ConfigError(f"{spec.run_id}: {check.detail}")
    if check.status in (NO_GENERATED, NO_SOURCE) and not in_sweep:
        fix = "build the manifest first (prove manifest build) or pick another strategy" if check.status == NO_GENERATED else "run the source stage first"
        raise ConfigError(f"{spec.run_id}: {check.detail}; {fix}")
    log.warning("skipping %s: %s (%s)", spec.run_id, check.status, check.detail)
    print(f"{spec.run_id}: {check.status}, nothing to do ({check.detail})")
    return True


def _execute(
    spec: RunSpec, check: Check, extra_callbacks: list[Any] | None, took_over: str | None,
    decision: dict[str, Any] | None = None, decider: Decider | None = None,
) -> dict[str, Any]:
    """Build the parts and do what pre-flight decided: train (+ test), test only, or evaluate a source run.

    The deciding rank (``decider``) writes the run's files, announces the decision just before training and
    tests alone; a follower rank (``decision``: what rank 0 announced) only builds the same parts and trains."""
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from prove_lightning.data.augment import describe_hooks
    from prove_lightning.evaluation.testing import format_table
    from prove_lightning.runs.audit import PipelineAudit
    from prove_lightning.runs.extend import ScheduleHorizon
    from prove_lightning.tasks.loggers import build_loggers, log_test_rows
    from prove_lightning.runs.preempt import EXIT_PREEMPTED
    from prove_lightning.tasks.parts import build_module, build_trainer
    from prove_lightning.tasks.test_run import test_checkpoint

    action = "test" if check.status == DONE else check.action
    decides = decision is None
    if decides and action != "train" and decider is not None:
        decider.announce(action, check.status, check.detail)  # the other ranks have nothing to do: rank 0 tests alone
    callbacks = list(extra_callbacks or [])
    config = spec.config
    extension = spec.extension if check.source is not None and check.source.mode == "extend" else None
    if extension:
        callbacks.append(ScheduleHorizon())
    pl.seed_everything(spec.seed, workers=True, verbose=False)
    datamodule = instantiate(config["data"])
    datamodule.index()
    static: dict[str, Any] = {}
    module = resume = None
    if action == "train":  # the checkpoint to resume from is checked before anything of the run is written
        module = build_module(config, datamodule.test_dataset_names)
        resume = find_resume_checkpoint(spec, check, module) if decides else decision.get("resume")  # type: ignore[union-attr]
    if action != "test" and decides:  # a test-only job keeps the training run's config.yaml and audit.json as they are
        save_run_files(spec)
        static = datamodule.describe() | {"preflight": {"status": check.status, "action": action, "detail": check.detail, "took_over_lock": took_over}}
        if extension:
            static["extension"] = extension
        if action != "train":
            atomic_write_json(spec.run_dir.audit_json, static)
    final = spec.final_ckpt
    out: dict[str, Any] = {"final_ckpt": final, "test_rows": []}
    if action == "evaluate":
        final = check.source.final_ckpt  # type: ignore[union-attr]
    elif action == "train":
        # what the data pipeline is set up to do, plus (filled while training) what the loaded batches held
        static["batch_augment"] = describe_hooks(getattr(module, "batch_hooks", []))
        audit = PipelineAudit(spec.run_dir.audit_json, static, expected_real=datamodule.expected_real)
        if not resume and decides:
            audit.write()  # a resumed run rewrites it once its counters are restored (on_fit_start)
        trainer = build_trainer(config, [audit, *callbacks])
        ddp.check_world(config, trainer, in_multirun=ddp.in_multirun())
        static["batch"] = ddp.batch_record(config, trainer, module.lr)
        if resume:
            log.info("resuming from %s", resume)
        if decider is not None:
            decider.announce("train", check.status, check.detail, resume=resume)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
        except SIGTERMException:
            log.warning("%s stopped by SIGTERM at step %d; checkpoints/last.ckpt holds it", spec.run_id, trainer.global_step)
            raise SystemExit(EXIT_PREEMPTED) from None
        ddp.save_final(trainer, final, spec.max_steps)
        if not decides:
            return out
    if spec.test_after_training and final.is_file():
        # 'evaluate' tests the source's final checkpoint; else every checkpoint stage.test_checkpoints selects
        todo = [(spec.max_steps, final)] if action == "evaluate" else spec.checkpoints_to_test()
        loggers = trainer.loggers if action == "train" else build_loggers(config)
        for step, ckpt in todo:
            if not ckpt.is_file():
                raise ConfigError(f"{ckpt} does not exist: stage.test_checkpoints selects step {step}; `prove eval run_dir={spec.run_dir.path} ckpt=all` tests the saved ones")
            rows = test_checkpoint(
                spec, ckpt, store_root=spec.output_root, accelerator=config["trainer"]["accelerator"],
                num_workers=int(config["data"].get("num_workers", 0)), progress=sys.stdout.isatty(),
            )
            print(format_table(rows, title=f"{spec.run_id} @ step {rows[0]['step'] if rows else step}: mIoU per domain"))
            out["test_rows"] += rows
            log_test_rows(loggers, rows)  # every logger gets test/<set>/mIoU_<domain> at the checkpoint's step
        out["status"] = DONE
    return out


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a sweep job returns to its launcher (small and picklable)."""
    return {"run_dir": str(result["run_dir"]), "status": result.get("status"), "detail": result.get("detail"), "n_rows": len(result["test_rows"])}
