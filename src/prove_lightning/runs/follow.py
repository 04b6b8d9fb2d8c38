"""A follower rank's run: wait for rank 0's decision, then train alongside it (or return at once)."""

from __future__ import annotations

import logging
from typing import Any, Callable

from prove_lightning.runs.preflight import Check
from prove_lightning.runs.ranks import Role, wait_for_decision
from prove_lightning.runs.spec import RunSpec

log = logging.getLogger(__name__)


def follow(spec: RunSpec, role: Role, execute: Callable[[Check, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Do what rank 0 decided: join its training (``execute``), or nothing (skip / test / failed: rank 0 alone)."""
    timeout = float(spec.preflight.get("rank_wait_s", 3600))
    decision = wait_for_decision(role, spec.run_dir.path, timeout)
    action = decision["action"]
    result: dict[str, Any] = {
        "run_dir": spec.run_dir.path, "final_ckpt": spec.final_ckpt, "test_rows": [],
        "status": decision.get("status") or action, "detail": f"{role.describe()}: rank 0 decided {action}",
    }
    if action != "train":
        log.info("%s: rank 0 decided '%s'; nothing to do here", role.describe(), action)
        return result
    check = Check(decision.get("status", ""), decision.get("detail", ""), spec.run_dir.path, spec.run_id, "train", spec.source)
    result.update(execute(check, decision))
    return result
