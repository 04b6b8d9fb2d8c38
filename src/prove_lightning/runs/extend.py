"""Extended training: continue a finished run to a larger max_steps with the LR schedule redefined over the new horizon.

The old pipeline restored its scheduler's whole state, horizon included, so the LR stayed at its floor for the
whole extension. Here the schedule is a function of (step, max_steps) built from the current config; the
checkpoint only restores the step. ``stage.extend_lr`` states the rule:

- ``recompute``: the model's warmup + poly schedule evaluated for the new max_steps. At the resume step the LR
  is what a run planned for the new horizon from the start would have there (15k of 45k, 1k warmup, poly
  power 1: 0.68 x base), then it decays to min_lr at the new max_steps.
- ``restart``: warmup-free poly from the base LR at the resume step down to min_lr at the new max_steps.
"""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from prove_lightning.errors import ConfigError
from prove_lightning.runs.spec import SourceRun

log = logging.getLogger(__name__)

RULES = ("recompute", "restart")


def plan_extension(rule: str, stage: str, new_max: int, source: SourceRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the source against the new horizon; returns (what is done, for audit.json) and the
    ``model.scheduler`` keys the rule sets (the caller builds the run's schedule with them)."""
    if rule not in RULES:
        raise ConfigError(f"stage.extend_lr={rule!r} is not a schedule rule; use one of {list(RULES)}")
    old_max = int(source.max_steps or 0)
    if new_max <= old_max:
        raise ConfigError(
            f"stage '{stage}' extends {source.stage} (max_steps {old_max}) to max_steps {new_max}; "
            f"the new horizon must be larger (set stage.max_steps / trainer.max_steps)"
        )
    scheduler: dict[str, Any] = {}
    if rule == "restart":
        # warmup_poly_factor is 1.0 before warmup_steps (ratio 1) and poly from warmup_steps to max_steps after it:
        # with warmup_steps = the resume step this is a warmup-free poly from the base LR over the new horizon
        scheduler = {"warmup_steps": old_max, "warmup_ratio": 1.0}
    info = {"source_stage": source.stage, "source_ckpt": str(source.final_ckpt), "from_step": old_max, "to_step": new_max, "lr_rule": rule}
    return info, scheduler


class ScheduleHorizon(pl.Callback):
    """After a checkpoint is restored, set every param group's LR from the current schedule at the current step.

    A restored optimizer carries the LR of the step it was saved at (the old horizon's floor); without this the
    first extended step would still run at that LR.
    """

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for config in trainer.lr_scheduler_configs:
            sched = config.scheduler
            lambdas = getattr(sched, "lr_lambdas", None)
            if not lambdas:
                continue
            step = int(sched.last_epoch)
            for group, base, fn in zip(sched.optimizer.param_groups, sched.base_lrs, lambdas):
                group["lr"] = base * fn(step)
            sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]  # noqa: SLF001 - what get_last_lr() reports
            log.info("LR at step %d over the new horizon: %s", step, ", ".join(f"{g['lr']:.3g}" for g in sched.optimizer.param_groups))
