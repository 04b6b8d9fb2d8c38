"""Rank-aware run control: in a multi-process launch one process decides, the others follow.

Pre-flight, the run lock, the run's files (config.yaml, version.json, audit.json), the final test, result rows
and predictions belong to one process: the *decider*. Every other rank (a *follower*) waits for the decider's
decision (skip / train / test / evaluate) and only joins the collective training, instead of re-deciding (which
made rank 1 find the run locked by rank 0, exit 75, and Lightning kill every process).

Who is who, by the environment each launcher sets:
- Lightning's own subprocess launcher (``trainer.devices=N`` on one machine, ``strategy=ddp``): the process the
  user started is rank 0 and decides *before* Lightning starts the workers; it puts the decision into
  ``os.environ[DECISION_ENV]`` just before ``trainer.fit``, and the workers, which Lightning starts with a copy
  of that environment plus ``LOCAL_RANK>=1``, read it there.
- External launchers start every rank at once: ``srun`` (SLURM_PROCID / SLURM_NTASKS), ``torchrun``
  (RANK / WORLD_SIZE / TORCHELASTIC_RUN_ID), LSF's ``jsrun`` (JSM_NAMESPACE_RANK / JSM_NAMESPACE_SIZE) or an
  MPI ``mpirun``/``blaunch`` launch (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK). Global rank 0 decides and
  writes ``<run_dir>/.ranks/<launch id>.json``; followers poll for that file (a file barrier in the run dir,
  which every node sees). The launch id names one launch (job id, step, restart count), so a requeued job
  never reads the decision of its earlier run.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from prove_lightning.errors import ProveError
from prove_lightning.io import atomic_write_json

log = logging.getLogger(__name__)

#: set by the deciding process before Lightning's subprocess launcher starts the other ranks
DECISION_ENV = "PROVE_RANK_DECISION"
DECISIONS_DIR = ".ranks"
#: decisions that mean "nothing to train": a follower returns at once
STOP = ("skip", "failed")


class RankWaitTimeout(ProveError):
    """A follower rank waited too long for the deciding rank."""


@dataclass(frozen=True)
class Role:
    """This process's place in the launch."""

    rank: int
    world_size: int
    #: 'single', 'lightning' (a worker Lightning started), 'slurm', 'torchrun', 'lsf', 'mpi'
    launcher: str
    #: names this launch (external launchers only): the key of the decision file
    launch_id: str | None = None
    #: the decision inherited from the deciding process (Lightning's subprocess launcher only)
    inherited: dict[str, Any] | None = None

    @property
    def decides(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size} ({self.launcher}{', launch ' + self.launch_id if self.launch_id else ''})"


def _int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name, "")
        if value.strip().lstrip("-").isdigit():
            return int(value)
    return None


def detect_role(env: Mapping[str, str] | None = None) -> Role:
    """This process's rank, world size and launcher, from the environment (nothing is imported or started)."""
    env = os.environ if env is None else env
    inherited = env.get(DECISION_ENV)
    if inherited:
        decision = json.loads(inherited)
        local = _int(env, "LOCAL_RANK") or 0
        if local > 0 or decision.get("pid") != os.getpid():
            node = _int(env, "NODE_RANK", "GROUP_RANK") or 0
            per_node = int(decision.get("devices", 1))
            return Role(node * per_node + local, _int(env, "WORLD_SIZE") or int(decision.get("world_size", 1)), "lightning", None, decision)
    if env.get("TORCHELASTIC_RUN_ID") and _int(env, "RANK") is not None:
        world = _int(env, "WORLD_SIZE") or 1
        launch = f"torchrun-{env['TORCHELASTIC_RUN_ID']}-{env.get('TORCHELASTIC_RESTART_COUNT', '0')}"
        return Role(_int(env, "RANK") or 0, world, "torchrun", launch)
    ntasks = _int(env, "SLURM_NTASKS", "SLURM_NPROCS")
    if env.get("SLURM_JOB_ID") and ntasks and ntasks > 1 and _int(env, "SLURM_PROCID") is not None:
        launch = f"slurm-{env['SLURM_JOB_ID']}.{env.get('SLURM_STEP_ID', 'batch')}-{env.get('SLURM_RESTART_COUNT', '0')}"
        return Role(_int(env, "SLURM_PROCID") or 0, ntasks, "slurm", launch)
    if env.get("LSB_JOBID") and _int(env, "JSM_NAMESPACE_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):
        world = _int(env, "JSM_NAMESPACE_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE") or 1
        if world > 1:
            rank = _int(env, "JSM_NAMESPACE_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK") or 0
            index = env.get("LSB_JOBINDEX", "0")
            launch = f"lsf-{env['LSB_JOBID']}{'_' + index if index not in ('', '0') else ''}-{env.get('LSB_RESTART', '')}-{env.get('LSB_BATCH_JID', '')}"
            return Role(rank, world, "lsf", launch)
    world = _int(env, "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE")
    if world and world > 1:
        rank = _int(env, "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK") or 0
        launch = f"mpi-{env.get('MASTER_ADDR', '')}-{env.get('MASTER_PORT', '')}-{env.get('OMPI_MCA_orte_hnp_uri', env.get('PMIX_NAMESPACE', ''))}"
        return Role(rank, world, "mpi", launch)
    return Role(0, 1, "single")


def decision_path(run_dir: str | Path, launch_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in launch_id)
    return Path(run_dir) / DECISIONS_DIR / f"{safe}.json"


def publish(role: Role, run_dir: str | Path, action: str, status: str = "", detail: str = "", devices: int = 1) -> dict[str, Any]:
    """The decider announces what every rank does: in the environment (for the workers Lightning will start) and,
    for external launchers, in the decision file the followers wait for. Returns the decision."""
    decision = {
        "action": action, "status": status, "detail": detail, "pid": os.getpid(), "time": time.time(),
        "run_dir": str(run_dir), "world_size": role.world_size, "devices": int(devices), "launch_id": role.launch_id,
    }
    if not role.decides:
        return decision
    os.environ[DECISION_ENV] = json.dumps(decision)
    if role.launch_id:
        path = decision_path(run_dir, role.launch_id)
        for old in path.parent.glob("*.json") if path.parent.is_dir() else ():
            if old != path and time.time() - old.stat().st_mtime > 86400:  # a finished launch's leftover
                old.unlink(missing_ok=True)
        atomic_write_json(path, decision)
    return decision


def wait_for_decision(role: Role, run_dir: str | Path, timeout_s: float = 3600.0, poll_s: float = 0.5) -> dict[str, Any]:
    """A follower's decision: inherited from the deciding process, or read from its decision file once written."""
    if role.inherited is not None:
        return role.inherited
    if not role.launch_id:
        raise RankWaitTimeout(f"{role.describe()}: no way to learn rank 0's decision (no launch id)")
    path = decision_path(run_dir, role.launch_id)
    t0 = time.time()
    while True:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
        if time.time() - t0 > timeout_s:
            raise RankWaitTimeout(
                f"{role.describe()} waited {timeout_s:.0f} s for rank 0's decision {path}; rank 0 may have failed "
                f"before deciding (see its log), or set preflight.rank_wait_s higher"
            )
        time.sleep(poll_s)


def clear_decision(role: Role, run_dir: str | Path) -> None:
    """The decider removes its decision file once the launch is over (a requeue gets a new launch id anyway)."""
    if role.decides and role.launch_id:
        decision_path(run_dir, role.launch_id).unlink(missing_ok=True)
        try:
            (Path(run_dir) / DECISIONS_DIR).rmdir()
        except OSError:
            pass


class Decider:
    """The deciding rank's side, as a context manager around the run: ``announce`` publishes the decision once;
    leaving without one (pre-flight skipped the run) announces 'skip', leaving on an error announces 'failed', so
    followers never wait for a decision that will not come."""

    def __init__(self, role: Role, run_dir: str | Path, devices: int = 1) -> None:
        self.role, self.run_dir, self.devices = role, Path(run_dir), devices
        self.decision: dict[str, Any] | None = None

    def announce(self, action: str, status: str = "", detail: str = "", **extra: Any) -> None:
        if self.decision is None:
            self.decision = publish(self.role, self.run_dir, action, status, detail, self.devices) | extra
            if extra and self.role.decides:  # re-publish with the extras (resume checkpoint, ...)
                os.environ[DECISION_ENV] = json.dumps(self.decision)
                if self.role.launch_id:
                    atomic_write_json(decision_path(self.run_dir, self.role.launch_id), self.decision)
            if self.role.world_size > 1 or self.role.launcher != "single":
                log.info("%s decided: %s (%s)", self.role.describe(), action, detail or status)

    def __enter__(self) -> "Decider":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.decision is None:
            self.announce("failed" if exc_type is not None else "skip", detail=str(exc) if exc is not None else "")
        if exc_type is None and self.decision.get("action") == "train":
            # every follower read it before joining the training; other decisions stay (a follower may still be
            # polling) and go when a later launch of this run publishes
            clear_decision(self.role, self.run_dir)
        os.environ.pop(DECISION_ENV, None)
