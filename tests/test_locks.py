"""Run locks: one live holder per run, stale locks detected and taken over, a duplicate launch exits 75."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from prove_lightning.runs.locks import EXIT_LOCKED, LockInfo, RunLock, RunLocked, holder_alive, lock_path, read_lock


def _write_lock(run_dir: Path, **fields: object) -> None:
    info = LockInfo.mine("x")
    for k, v in fields.items():
        setattr(info, k, v)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path(run_dir).write_text(json.dumps(asdict(info)))


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_lock_names_its_holder_and_a_second_taker_is_refused(tmp_path: Path) -> None:
    with RunLock(tmp_path, "demo/baseline/toycity/m", heartbeat_s=0) as lock:
        info = read_lock(lock.path)
        assert info is not None and (info.host, info.pid, info.run) == (socket.gethostname(), os.getpid(), "demo/baseline/toycity/m")
        with pytest.raises(RunLocked) as err:
            RunLock(tmp_path, heartbeat_s=0).acquire()
        assert err.value.exit_code == EXIT_LOCKED == 75
        assert f"pid {os.getpid()}" in str(err.value) and socket.gethostname() in str(err.value)
    assert not lock_path(tmp_path).exists()  # released


def test_lock_of_a_dead_process_on_this_host_is_stale_and_taken_over(tmp_path: Path) -> None:
    pid = _dead_pid()
    _write_lock(tmp_path, pid=pid, pid_start=None)
    lock = RunLock(tmp_path, heartbeat_s=0).acquire()
    try:
        assert lock.took_over and f"pid {pid} is not running" in lock.took_over
        assert read_lock(lock.path).pid == os.getpid()
    finally:
        lock.release()


def test_a_reused_pid_is_not_mistaken_for_the_holder(tmp_path: Path) -> None:
    _write_lock(tmp_path, pid=os.getpid(), pid_start="1")  # our pid, but another process's start time
    alive, why = holder_alive(read_lock(lock_path(tmp_path)))
    assert not alive and "different process" in why


def test_other_host_without_scheduler_goes_by_heartbeat_age(tmp_path: Path) -> None:
    _write_lock(tmp_path, host="node-elsewhere", scheduler=None, job_id=None, heartbeat=time.time() - 30)
    assert holder_alive(read_lock(lock_path(tmp_path)), stale_after_s=900)[0]
    _write_lock(tmp_path, host="node-elsewhere", scheduler=None, job_id=None, heartbeat=time.time() - 3600)
    alive, why = holder_alive(read_lock(lock_path(tmp_path)), stale_after_s=900)
    assert not alive and "no heartbeat" in why


@pytest.mark.parametrize(
    "scheduler,tool,output,rc,alive",
    [
        ("slurm", "squeue", "RUNNING\n", 0, True),
        ("slurm", "squeue", "", 0, False),  # squeue no longer lists the job
        ("slurm", "squeue", "slurm_load_jobs error: Invalid job id specified\n", 1, False),
        ("lsf", "bjobs", "RUN\n", 0, True),
        ("lsf", "bjobs", "DONE\n", 0, False),
        ("lsf", "bjobs", "Job <12> is not found\n", 255, False),
    ],
)
def test_other_host_with_a_job_id_asks_its_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheduler: str, tool: str, output: str, rc: int, alive: bool) -> None:
    """Recorded answers of squeue / bjobs, served by a stand-in command on PATH (no scheduler here to ask)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / tool).write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {rc}\n")
    (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "LSB_JOBID"):
        monkeypatch.delenv(var, raising=False)
    # a fresh heartbeat: only the scheduler's answer can make the lock stale
    _write_lock(tmp_path / "run", host="node-elsewhere", scheduler=scheduler, job_id="12", heartbeat=time.time())
    assert holder_alive(read_lock(lock_path(tmp_path / "run")))[0] is alive


def test_a_requeued_job_takes_over_the_lock_of_its_earlier_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    _write_lock(tmp_path, host="node-before-requeue", scheduler="slurm", job_id="77", pid=12345, heartbeat=time.time())
    with RunLock(tmp_path, heartbeat_s=0) as lock:
        assert "requeued" in lock.took_over


def test_heartbeat_refreshes_the_lock(tmp_path: Path) -> None:
    with RunLock(tmp_path, heartbeat_s=0.1) as lock:
        first = read_lock(lock.path).heartbeat
        time.sleep(0.5)
        assert read_lock(lock.path).heartbeat > first


def _contend(run_dir: str, log: str, rounds: int) -> tuple[int, int]:
    """Try the lock ``rounds`` times, holding it 2 ms each time it is got; (times got, times refused)."""
    ready = Path(log).with_name(f"ready-{os.getpid()}")
    ready.touch()
    deadline = time.time() + 60
    while len(list(ready.parent.glob("ready-*"))) < 2 and time.time() < deadline:  # start together
        time.sleep(0.001)
    got = refused = 0
    for _ in range(rounds):
        try:
            lock = RunLock(run_dir, heartbeat_s=0).acquire()
        except RunLocked:
            refused += 1
            time.sleep(0.001)
            continue
        got += 1
        with open(log, "a") as f:
            f.write(f"+{os.getpid()}\n")
        time.sleep(0.002)
        with open(log, "a") as f:
            f.write(f"-{os.getpid()}\n")
        lock.release()
    return got, refused


def test_two_processes_racing_for_one_lock_never_hold_it_together(tmp_path: Path) -> None:
    """Whatever the scheduler does (one process may win every round), no two holders ever overlap."""
    log = tmp_path / "log.txt"
    ctx = mp.get_context("spawn")
    rounds = 60
    with ctx.Pool(2) as pool:
        results = pool.starmap(_contend, [(str(tmp_path / "run"), str(log), rounds)] * 2)
    lines = log.read_text().split()
    assert all(got + refused == rounds for got, refused in results), results  # every try got it or was told no
    assert sum(got for got, _ in results) == len(lines) // 2 >= 1, results
    for enter, leave in zip(lines[::2], lines[1::2]):  # every "+pid" is followed by the same pid's "-pid"
        assert enter[0] == "+" and leave == "-" + enter[1:], lines


@pytest.mark.slow
def test_a_duplicate_launch_of_a_running_run_exits_75_with_the_holder(tmp_path: Path, cache_root: Path) -> None:
    """Two real `python -m prove_lightning.train` processes on one run: the second finds it locked."""
    from slurm.runner import ensure_small_toycity, job_env, pause_at, run_train, tiny, train_cmd

    ensure_small_toycity(cache_root)
    out, marker = tmp_path / "out", tmp_path / "marker"
    args = ["stage=demo", *tiny(out, cache_root, steps=2)]
    env = job_env()
    first = subprocess.Popen(train_cmd(*args, *pause_at(marker, 1)), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(1200):  # the first job holds the lock and waits at step 1
            if list(marker.glob("paused-*")) or first.poll() is not None:
                break
            time.sleep(0.1)
        assert list(marker.glob("paused-*")), first.communicate()[0][-3000:]
        second = run_train(args, env, timeout=180, cwd=tmp_path)
        assert second.returncode == EXIT_LOCKED, second.stdout[-2000:] + second.stderr[-2000:]
        assert "run is locked by" in second.stderr and f"pid {first.pid}" in second.stderr
    finally:
        (marker / "release").touch()
        output = first.communicate(timeout=300)[0]
    assert first.returncode == 0, output[-3000:]
    run_dir = out / "demo/baseline/toycity/segformer_b0"
    assert (run_dir / "checkpoints/step_2.ckpt").is_file() and not lock_path(run_dir).exists()
