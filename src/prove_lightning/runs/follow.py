"""A follower rank's run: wait for rank 0's decision, then train alongside it (or return at once)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig

from prove_lightning.runs.preflight import Check
from prove_lightning.runs.ranks import STOP, Role, wait_for_decision
from prove_lightning.runs.stage import final_checkpoint, source_run

log = logging.getLogger(__name__)


def follow(cfg: DictConfig, role: Role, run_dir: Path, execute: Callable[[Check, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Do what rank 0 decided: join its training (``execute``), or nothing (skip / test / failed: rank 0 alone)."""
    timeout = float((cfg.get("preflight") or {}).get("rank_wait_s", 3600))
    decision = wait_for_decision(role, run_dir, timeout)
    result: dict[str, Any] = {
        "run_dir": run_dir, "final_ckpt": final_checkpoint(run_dir, cfg), "test_rows": [],
        "status": decision.get("status") or decision["action"], "detail": f"{role.describe()}: rank 0 decided {decision['action']}",
    }
    action = decision["action"]
    if action in STOP or action != "train":
        log.info("%s: rank 0 decided '%s'; nothing to do here", role.describe(), action)
        return result
    check = Check(decision.get("status", ""), decision.get("detail", ""), run_dir, str(cfg.run_relpath), "train", source_run(cfg))
    result.update(execute(check, decision))
    return result
