"""Sweep launchers that end in one line naming the option to fix, not a traceback (HYDRA_FULL_ERROR=1: the traceback).

hydra/launcher=slurm|lsf|local use hydra_plugins.prove_launchers (subclasses of hydra-submitit-launcher's
launchers and of our LSF one, which Hydra wants under hydra_plugins), whose launch() calls :func:`launch_explained`. Three failures are explained: the scheduler's command is missing (no ``sbatch``/``srun``/``bsub`` on
PATH), the scheduler rejects the submission (a bad partition/queue, time, memory, GPUs, account), and a job
fails (its exception or its death: time limit, memory, node), with where its log is.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from typing import Any, Callable

EXIT_LAUNCH_ERROR = 2

#: (pattern in the scheduler's message, the option that sets it) -- first match wins
_REJECTIONS: dict[str, list[tuple[str, str]]] = {
    "slurm": [
        (r"partition", "hydra.launcher.partition (see `sinfo -s`)"),
        (r"qos", "hydra.launcher.qos"),
        (r"account", "hydra.launcher.account (see `sacctmgr show assoc user=$USER`)"),
        (r"time limit", "hydra.launcher.timeout_min"),
        (r"memory|mem", "hydra.launcher.mem_gb"),
        (r"gres|gpu", "hydra.launcher.gpus_per_node"),
        (r"cpu|processors", "hydra.launcher.cpus_per_task"),
        (r"node", "hydra.launcher.nodes / hydra.launcher.tasks_per_node"),
    ],
    "lsf": [
        (r"queue", "hydra.launcher.queue (see `bqueues`)"),
        (r"project", "hydra.launcher.project"),
        (r"run limit|runlimit|-W", "hydra.launcher.timeout_min"),
        (r"mem|rusage", "hydra.launcher.mem_gb"),
        (r"gpu", "hydra.launcher.gpus_per_node"),
    ],
}
_COMMANDS = {"slurm": "sbatch/srun", "lsf": "bsub", "local": "python"}


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    for ln in lines:  # the scheduler's own error line, when there is one
        if re.search(r"(sbatch|bsub|srun): error|error:", ln, re.IGNORECASE):
            return ln
    return lines[0] if lines else ""


def _during_results(exc: BaseException) -> bool:
    """Raised while waiting for a job's result (the job failed), not while submitting."""
    return any(frame.name in ("results", "result") for frame in traceback.extract_tb(exc.__traceback__))


def _job_failure(exc: BaseException) -> str:
    from submitit.core.utils import FailedJobError

    text = str(exc)
    job = re.search(r"Job (\S+)", text)
    name = f"job {job.group(1)}" if job else "a sweep job"
    result = re.search(r"(/\S+?)_result\.pkl", text)
    logs = re.findall(r"(/\S+_log\.err)", text)
    err = logs[-1] if logs else (f"{result.group(1)}_log.err" if result else None)
    where = f"; its log: {err}" if err else "; its .out/.err are under the sweep folder's .submitit/"
    own = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("error: ")]
    if own:  # the job's own one-line error (a bad option or input of that run)
        return f"{name} stopped: {own[-1][len('error: '):]}{where}; fix it and relaunch (finished runs are skipped)"
    if isinstance(exc, FailedJobError) and "failed during processing" in text:
        last = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
        reason = last[-1].strip() if last else "an exception"
        return f"{name} failed: {reason}{where}; the run's logs/error.log holds the traceback (fix it and relaunch: finished runs are skipped)"
    state = re.search(r"state: ([A-Z_]+)", text)
    return (f"{name} ended without a result (state {state.group(1) if state else 'unknown'}){where}; if it ran out of time or "
            f"memory, raise hydra.launcher.timeout_min or hydra.launcher.mem_gb and relaunch (it resumes from its last.ckpt)")


def explain(kind: str, exc: BaseException) -> str | None:
    """One line for a launch failure we recognise, else None (the traceback then goes out as usual)."""
    from submitit.core.utils import FailedSubmissionError, UncompletedJobError

    text = str(exc)
    if isinstance(exc, FileNotFoundError) or re.search(r'Could not detect "(srun|sbatch|bsub)"', text):
        return (f"hydra/launcher={kind}: the scheduler's command ({_COMMANDS.get(kind, kind)}) is not on PATH, so this host "
                f"cannot submit jobs; launch from a {kind.upper()} login/submit node (or `module load {kind}`), or use "
                f"hydra/launcher=local for parallel local processes")
    if isinstance(exc, UncompletedJobError) and _during_results(exc):
        return f"hydra/launcher={kind}: {_job_failure(exc)}"
    if isinstance(exc, (UncompletedJobError, FailedSubmissionError)):
        line = _first_line(text)
        for pattern, option in _REJECTIONS.get(kind, []):
            if re.search(pattern, line, re.IGNORECASE):
                return f"hydra/launcher={kind}: the scheduler rejected the submission: {line}; fix {option}"
        return f"hydra/launcher={kind}: the scheduler rejected the submission: {line}; check the hydra.launcher.* options (conf/hydra/launcher/{kind}.yaml)"
    return None


def launch_explained(kind: str, launch: Callable[[], Any]) -> Any:
    """Run Hydra's launch(); a recognised failure becomes one line on stderr and exit status 2."""
    try:
        return launch()
    except Exception as exc:  # noqa: BLE001 - re-raised unless recognised
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        message = explain(kind, exc)
        if message is None:
            raise
        print(f"error: {message} (full traceback: HYDRA_FULL_ERROR=1)", file=sys.stderr)
        raise SystemExit(EXIT_LAUNCH_ERROR) from None  # not an Exception: Hydra's reporter lets it through
