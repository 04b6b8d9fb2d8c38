"""One lock per run directory, so two launches of the same run never train it at once.

The lock is a small JSON file (``<run_dir>/run.lock``) naming its holder: host, pid (+ process start time),
scheduler job id, user, start time and a heartbeat refreshed while the run lives. Creating, checking and
removing it happens under a short ``filelock.FileLock`` guard, so two processes racing for it cannot both win.
A lock whose holder is gone is stale and taken over:
- same host: the pid is not alive (or is a different process with the same pid);
- a SLURM / LSF job: ``squeue`` / ``bjobs`` no longer lists it as pending or running (a requeued job meeting
  its own earlier lock also takes it over);
- otherwise: the heartbeat is older than ``stale_after_s``.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from prove_lightning.errors import ProveError
from prove_lightning.io import atomic_write_text

log = logging.getLogger(__name__)

LOCK_NAME = "run.lock"
#: exit status of a launch that finds its run locked by a live holder (EX_TEMPFAIL: try again later)
EXIT_LOCKED = 75

_SLURM_ALIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT"}
_LSF_ALIVE = {"PEND", "RUN", "PSUSP", "USUSP", "SSUSP", "WAIT", "PROV"}


def lock_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / LOCK_NAME


def current_job() -> tuple[str | None, str | None]:
    """(scheduler, job id) of the job this process runs in, from the scheduler's environment."""
    env = os.environ
    if env.get("SLURM_JOB_ID"):
        if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
            return "slurm", f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
        return "slurm", env["SLURM_JOB_ID"]
    if env.get("LSB_JOBID"):
        index = env.get("LSB_JOBINDEX", "0")
        return "lsf", env["LSB_JOBID"] if index in ("", "0") else f"{env['LSB_JOBID']}[{index}]"
    return None, None


def _pid_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), to tell a reused pid from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class LockInfo:
    host: str
    pid: int
    pid_start: str | None
    scheduler: str | None
    job_id: str | None
    user: str
    started: float
    heartbeat: float
    run: str = ""
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def mine(cls, run: str = "") -> "LockInfo":
        scheduler, job_id = current_job()
        now = time.time()
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no passwd entry in some containers
            user = str(os.getuid())
        return cls(socket.gethostname(), os.getpid(), _pid_start(os.getpid()), scheduler, job_id, user, now, now, run)

    def holder(self) -> str:
        job = f", {self.scheduler} job {self.job_id}" if self.job_id else ""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"{self.user}@{self.host} pid {self.pid}{job}, since {since}"


def read_lock(path: str | Path) -> LockInfo | None:
    """The lock's holder, or None when there is no (readable) lock file."""
    try:
        data = json.loads(Path(path).read_text())
        return LockInfo(**{k: data.get(k) for k in LockInfo.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def _scheduler_says(info: LockInfo) -> bool | None:
    """True/False when the holder's scheduler says whether its job is alive; None when it cannot tell."""
    if not info.job_id:
        return None
    if info.scheduler == "slurm":
        cmd = ["squeue", "-h", "-j", info.job_id, "-o", "%T"]
        alive = _SLURM_ALIVE
    elif info.scheduler == "lsf":
        cmd = ["bjobs", "-noheader", "-o", "stat", info.job_id]
        alive = _LSF_ALIVE
    else:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    states = {s.strip().upper() for s in out.stdout.split() if s.strip()}
    if out.returncode == 0:
        return bool(states & alive)
    text = (out.stdout + out.stderr).lower()
    if "invalid job id" in text or "not found" in text:
        return False
    return None


def holder_alive(info: LockInfo, stale_after_s: float = 900.0) -> tuple[bool, str]:
    """Whether the lock's holder still runs, and why we think so."""
    scheduler, job_id = current_job()
    if job_id and info.job_id == job_id and info.scheduler == scheduler and (info.host, info.pid) != (socket.gethostname(), os.getpid()):
        return False, f"held by an earlier run of this same job ({job_id}, requeued)"
    if info.host == socket.gethostname():
        try:
            os.kill(int(info.pid), 0)
        except ProcessLookupError:
            return False, f"pid {info.pid} is not running on {info.host}"
        except PermissionError:
            pass
        start = _pid_start(int(info.pid))
        if info.pid_start and start and start != info.pid_start:
            return False, f"pid {info.pid} on {info.host} is a different process now"
        return True, f"pid {info.pid} is running on {info.host}"
    said = _scheduler_says(info)
    if said is not None:
        return said, f"{info.scheduler} job {info.job_id} is {'alive' if said else 'gone'}"
    age = time.time() - float(info.heartbeat or info.started or 0)
    if age > stale_after_s:
        return False, f"no heartbeat for {age:.0f} s (> {stale_after_s:.0f} s)"
    return True, f"heartbeat {age:.0f} s ago"


class RunLocked(ProveError):
    """Another live process holds this run's lock."""

    exit_code = EXIT_LOCKED

    def __init__(self, path: Path, info: LockInfo, why: str) -> None:
        self.path, self.info, self.why = path, info, why
        super().__init__(
            f"run is locked by {info.holder()} ({why}); lock file {path}. It is being trained or tested elsewhere: "
            f"wait for it, or, if that process is really gone, delete the lock file"
        )


class RunLock:
    """Context manager: take the run lock (taking over a stale one), keep its heartbeat fresh, release it."""

    def __init__(self, run_dir: str | Path, run: str = "", stale_after_s: float = 900.0, heartbeat_s: float = 60.0) -> None:
        self.path = lock_path(run_dir)
        self.run = run
        self.stale_after_s, self.heartbeat_s = float(stale_after_s), float(heartbeat_s)
        self.guard = FileLock(str(self.path) + ".guard", timeout=60)
        self.info: LockInfo | None = None
        self.took_over: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _write(self, info: LockInfo) -> None:
        atomic_write_text(self.path, json.dumps(asdict(info), indent=1) + "\n")

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.guard:
            current = read_lock(self.path)
            if current is not None:
                alive, why = holder_alive(current, self.stale_after_s)
                if alive:
                    raise RunLocked(self.path, current, why)
                self.took_over = f"stale lock of {current.holder()} ({why})"
                log.warning("taking over %s: %s", self.path, self.took_over)
            self.info = LockInfo.mine(self.run)
            self._write(self.info)
        if self.heartbeat_s > 0:
            self._thread = threading.Thread(target=self._beat, name="prove-lock-heartbeat", daemon=True)
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self.guard:
                    current = read_lock(self.path)
                    if current is None or self.info is None or current.token != self.info.token:
                        log.error("lost the run lock %s (now %s)", self.path, current.holder() if current else "missing")
                        return
                    self.info.heartbeat = time.time()
                    self._write(self.info)
            except Exception as exc:  # noqa: BLE001 - a failed heartbeat must not kill training
                log.warning("lock heartbeat failed for %s: %s", self.path, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.info is None:
            return
        with self.guard:
            current = read_lock(self.path)
            if current is not None and current.token == self.info.token:
                self.path.unlink()
        self.info = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def lock_status(run_dir: str | Path, stale_after_s: float = 900.0) -> tuple[str, str] | None:
    """('locked' | 'stale', text) for the plan, or None when the run has no lock file."""
    info = read_lock(lock_path(run_dir))
    if info is None:
        return None
    alive, why = holder_alive(info, stale_after_s)
    return ("locked" if alive else "stale", f"{info.holder()} ({why})")
