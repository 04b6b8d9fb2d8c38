"""Rank roles from each launcher's environment and the decision hand-over (runs/ranks.py); fast, no processes
are launched here (tests/test_ddp.py and tests/test_slurm.py launch real ones)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from prove_lightning.runs.ranks import DECISION_ENV, Decider, RankWaitTimeout, Role, decision_path, detect_role, wait_for_decision


def test_roles_from_each_launchers_environment() -> None:
    assert detect_role({}) == Role(0, 1, "single")
    srun = detect_role({"SLURM_JOB_ID": "77", "SLURM_NTASKS": "4", "SLURM_PROCID": "3", "SLURM_STEP_ID": "0"})
    assert (srun.rank, srun.world_size, srun.launcher, srun.launch_id) == (3, 4, "slurm", "slurm-77.0-0")
    requeued = detect_role({"SLURM_JOB_ID": "77", "SLURM_NTASKS": "4", "SLURM_PROCID": "0", "SLURM_STEP_ID": "0", "SLURM_RESTART_COUNT": "1"})
    assert requeued.decides and requeued.launch_id != srun.launch_id  # a requeued job never reads the old decision
    assert detect_role({"SLURM_JOB_ID": "77", "SLURM_NTASKS": "1", "SLURM_PROCID": "0"}).launcher == "single"  # one task
    torchrun = detect_role({"TORCHELASTIC_RUN_ID": "abc", "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert (torchrun.rank, torchrun.world_size, torchrun.launcher) == (1, 2, "torchrun")
    mpi = detect_role({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3", "MASTER_PORT": "1"})
    assert (mpi.rank, mpi.world_size, mpi.launcher) == (2, 3, "mpi")
    # a worker Lightning's subprocess launcher started: the decision came with the environment
    decision = {"action": "train", "pid": -1, "devices": 2, "world_size": 4}
    worker = detect_role({DECISION_ENV: json.dumps(decision), "LOCAL_RANK": "1", "NODE_RANK": "1", "WORLD_SIZE": "4"})
    assert (worker.rank, worker.world_size, worker.launcher, worker.inherited) == (3, 4, "lightning", decision)


def test_followers_wait_for_the_deciders_file_and_get_skip_when_it_decides_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DECISION_ENV, raising=False)
    env = {"SLURM_JOB_ID": "5", "SLURM_NTASKS": "2", "SLURM_STEP_ID": "0"}
    rank0, rank1 = detect_role({**env, "SLURM_PROCID": "0"}), detect_role({**env, "SLURM_PROCID": "1"})
    got: list[dict] = []
    t = threading.Thread(target=lambda: got.append(wait_for_decision(rank1, tmp_path, timeout_s=30, poll_s=0.05)))
    t.start()
    time.sleep(0.3)
    assert not got  # still waiting: rank 0 has not decided
    with Decider(rank0, tmp_path, devices=2) as d:
        d.announce("train", "to_run", "not started", resume=None)
        t.join(10)  # training: the follower joins it (here: has read the decision) before rank 0 can finish
    assert got and got[0]["action"] == "train" and got[0]["devices"] == 2
    assert not decision_path(tmp_path, rank0.launch_id).exists()  # a train decision is cleared when the run ends
    # pre-flight skipped the run: the followers learn 'skip'; an error: 'failed' (nobody waits for ever)
    with Decider(rank0, tmp_path):
        pass
    assert wait_for_decision(rank1, tmp_path, timeout_s=1)["action"] == "skip"
    with pytest.raises(RuntimeError), Decider(rank0, tmp_path):
        decision_path(tmp_path, rank0.launch_id).unlink()
        raise RuntimeError("boom")
    failed = wait_for_decision(rank1, tmp_path, timeout_s=1)
    assert failed["action"] == "failed" and "boom" in failed["detail"]
    other = detect_role({**env, "SLURM_JOB_ID": "6", "SLURM_PROCID": "1"})
    with pytest.raises(RankWaitTimeout, match="rank_wait_s"):
        wait_for_decision(other, tmp_path, timeout_s=0.2, poll_s=0.05)


def test_devices_above_one_inside_a_sweep_without_scheduler_tasks_is_refused_with_the_fix() -> None:
    from types import SimpleNamespace

    from lightning_fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

    from prove_lightning.errors import ConfigError
    from prove_lightning.runs.ddp import check_world

    config = {"trainer": {"devices": 2}}
    lightning = SimpleNamespace(world_size=2, strategy=SimpleNamespace(cluster_environment=LightningEnvironment()))
    with pytest.raises(ConfigError, match="slurm_ddp"):
        check_world(config, lightning, in_multirun=True)
    check_world(config, lightning, in_multirun=False)  # a single run: Lightning starts the workers itself
    srun = SimpleNamespace(world_size=2, strategy=SimpleNamespace(cluster_environment=SLURMEnvironment()))
    check_world(config, srun, in_multirun=True)  # srun started every rank: fine inside a sweep
