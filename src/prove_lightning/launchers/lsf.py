"""A submitit executor for IBM Spectrum LSF: bsub to submit, bjobs to watch, bkill to cancel, brequeue to requeue.

submitit ships SLURM and local executors only; third-party executors plug in through its ``submitit`` entry-point
group (pyproject.toml registers this module's LsfExecutor and LsfJobEnvironment), after which
``submitit.AutoExecutor(cluster="lsf")`` and the Hydra launcher ``hydra/launcher=submitit_lsf`` use it.

- A job is a bash script with ``#BSUB`` directives fed to ``bsub`` on stdin (``bsub < script``).
- Several jobs go out as one job array ``-J "name[1-N]%P"``; element i (1-based) sees ``LSB_JOBINDEX=i`` and
  is known to submitit as ``<jobid>_<i>`` (LSF itself writes ``<jobid>[<i>]``).
- ``signal_delay_s`` becomes ``-wa USR2 -wt <minutes>``: LSF sends SIGUSR2 that long before the run limit,
  submitit's handler checkpoints and requeues the job with ``brequeue``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import typing as tp
import uuid
from pathlib import Path

from submitit.core import core, job_environment, logger, utils

#: LSF job states -> the names submitit's Job.done() understands (anything else counts as finished)
LSF_STATES = {
    "PEND": "PENDING",
    "WAIT": "PENDING",
    "PROV": "PENDING",
    "PSUSP": "PENDING",
    "RUN": "RUNNING",
    "USUSP": "RUNNING",
    "SSUSP": "RUNNING",
    "DONE": "COMPLETED",
    "EXIT": "FAILED",
    "ZOMBI": "FAILED",
    "UNKWN": "UNKNOWN",
}
BJOBS_FIELDS = "jobid jobindex stat exit_code"


def lsf_job_id(job_id: str) -> str:
    """submitit's ``123_4`` -> LSF's ``123[4]`` (array element); ``123`` stays."""
    main, *index = str(job_id).split("_", 1)
    return f"{main}[{index[0]}]" if index else main


def _lsf_path(path: str | Path, array: bool) -> str:
    """A submitit path pattern (%j job id, %t task, %A/%a array) as an LSF -o/-e pattern (%J job id, %I index)."""
    text = str(path)
    return text.replace("%j", "%J_%I" if array else "%J").replace("%A", "%J").replace("%a", "%I").replace("%t", "0")


class LsfInfoWatcher(core.InfoWatcher):
    """Asks ``bjobs`` about every unfinished job at once."""

    def _make_command(self) -> list[str] | None:
        to_check = sorted({x.split("_")[0] for x in self._registered - self._finished})
        if not to_check:
            return None
        return ["bjobs", "-a", "-noheader", "-o", f"{BJOBS_FIELDS} delimiter='|'", *to_check]

    def get_state(self, job_id: str, mode: str = "standard") -> str:
        return self.get_info(job_id, mode=mode).get("State") or "UNKNOWN"

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        """Parse ``bjobs -o "jobid jobindex stat exit_code delimiter='|'"`` lines (other lines are ignored)."""
        if not isinstance(string, str):
            string = string.decode()
        out: dict[str, dict[str, str]] = {}
        for line in string.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 3 or not parts[0].isdigit():
                continue
            jobid, index, stat = parts[0], parts[1], parts[2].upper()
            key = jobid if index in ("", "0", "-") else f"{jobid}_{index}"
            out[key] = {"JobID": key, "LsfState": stat, "State": LSF_STATES.get(stat, "UNKNOWN"), "ExitCode": parts[3] if len(parts) > 3 else ""}
        return out

    def update(self) -> None:
        # bjobs exits non-zero when any job id is unknown but still prints the known ones: read stdout regardless
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        try:
            proc = subprocess.run(command, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            logger.get_logger().warning(f"Call #{self.num_calls} - Bypassing bjobs error {e}, status may be inaccurate.")
        else:
            self._output = proc.stdout
            self._info_dict.update(self.read_info(proc.stdout))
        self._last_status_check = time.time()
        for job_id in self._registered - self._finished:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)


class LsfJob(core.Job[core.R]):
    _cancel_command = "bkill"
    watcher = LsfInfoWatcher(delay_s=60)

    def cancel(self, check: bool = True) -> None:
        (subprocess.check_call if check else subprocess.call)(["bkill", lsf_job_id(self.job_id)], shell=False)

    def _interrupt(self, timeout: bool = False) -> None:
        """Send what LSF sends on preemption (SIGTERM, then the warning signal) or near the run limit (warning only)."""
        if not timeout:
            subprocess.check_call(["bkill", "-s", "TERM", lsf_job_id(self.job_id)])
        subprocess.check_call(["bkill", "-s", LsfJobEnvironment.USR_SIG, lsf_job_id(self.job_id)])


class LsfJobEnvironment(job_environment.JobEnvironment):
    """Inside an LSF job: LSB_JOBID and (array element) LSB_JOBINDEX; ranks from jsrun's JSM_NAMESPACE_* if any."""

    _env = {
        "job_id": "LSB_JOBID",
        "num_tasks": "JSM_NAMESPACE_SIZE",
        "num_nodes": "PROVE_LSF_NUM_NODES",
        "node": "PROVE_LSF_NODE_RANK",
        "global_rank": "JSM_NAMESPACE_RANK",
        "local_rank": "JSM_NAMESPACE_LOCAL_RANK",
        "array_job_id": "LSB_JOBID",
        "array_task_id": "LSB_JOBINDEX",
    }

    @property
    def array_job_id(self) -> str | None:
        index = os.environ.get("LSB_JOBINDEX", "0")
        return os.environ.get("LSB_JOBID") if index not in ("", "0") else None

    @property
    def array_task_id(self) -> str | None:
        index = os.environ.get("LSB_JOBINDEX", "0")
        return index if index not in ("", "0") else None

    @property
    def hostnames(self) -> list[str]:
        hosts = os.environ.get("LSB_HOSTS", "").split()
        return list(dict.fromkeys(hosts)) or [self.hostname]

    @property
    def num_nodes(self) -> int:
        return len(self.hostnames)

    def _requeue(self, countdown: int) -> None:
        jid = lsf_job_id(self.job_id)
        subprocess.check_call(["brequeue", "-r", jid], timeout=60)
        logger.get_logger().info(f"Requeued job {jid} ({countdown} remaining timeouts)")


class LsfExecutor(core.PicklingExecutor):
    """LSF job executor: like submitit's SlurmExecutor, with bsub / bjobs / bkill / brequeue.

    Parameters (``update_parameters`` / Hydra ``hydra.launcher.*``): job_name, queue, time (minutes),
    nodes, ntasks_per_node, cpus_per_task, gpus_per_node, gpu_mode, mem (GB), project, signal_delay_s,
    array_parallelism, exclusive, setup (shell lines), additional_parameters ({flag: value} -> ``#BSUB -flag value``),
    stderr_to_stdout.
    """

    job_class = LsfJob

    def __init__(self, folder: str | Path, max_num_timeout: int = 3, max_pickle_size_gb: float = 1.0, python: str | None = None) -> None:
        super().__init__(folder, max_num_timeout=max_num_timeout, max_pickle_size_gb=max_pickle_size_gb)
        self.python = shlex.quote(sys.executable) if python is None else python
        if not self.affinity() > 0:
            raise RuntimeError('Could not detect "bsub": is this an LSF cluster (is bsub on PATH)?')

    @classmethod
    def _equivalence_dict(cls) -> core.EquivalenceDict:
        return {
            "name": "job_name",
            "timeout_min": "time",
            "mem_gb": "mem",
            "nodes": "nodes",
            "cpus_per_task": "cpus_per_task",
            "gpus_per_node": "gpus_per_node",
            "tasks_per_node": "ntasks_per_node",
        }

    @classmethod
    def _valid_parameters(cls) -> set[str]:
        return set(_default_parameters())

    def _internal_update_parameters(self, **kwargs: tp.Any) -> None:
        defaults = _default_parameters()
        invalid = sorted(set(kwargs) - set(defaults))
        if invalid:
            listing = "\n  - ".join(f"{k} (default: {v!r})" for k, v in sorted(defaults.items()))
            raise ValueError(f"Unavailable parameter(s): {invalid}\nValid parameters are:\n  - {listing}")
        make_bsub_script(command="true", folder=self.folder, **kwargs)  # fail early on bad values
        super()._internal_update_parameters(**kwargs)

    def _internal_process_submissions(self, delayed_submissions: list[utils.DelayedSubmission]) -> list[core.Job[tp.Any]]:
        if len(delayed_submissions) == 1:
            return super()._internal_process_submissions(delayed_submissions)
        folder = utils.JobPaths.get_first_id_independent_folder(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        timeout_min = self.parameters.get("time", 5)
        pickle_paths = []
        for d in delayed_submissions:
            pickle_path = folder / f"{uuid.uuid4().hex}.pkl"
            d.set_timeout(timeout_min, self.max_num_timeout)
            d.dump(pickle_path)
            pickle_paths.append(pickle_path)
        n = len(delayed_submissions)
        array_ex = LsfExecutor(self.folder, self.max_num_timeout, python=self.python)
        array_ex.update_parameters(**self.parameters)
        array_ex.parameters["map_count"] = n
        self._throttle()
        first = array_ex._submit_command(self._submitit_command_str)
        jobs: list[core.Job[tp.Any]] = [LsfJob(folder=self.folder, job_id=f"{first.job_id}_{i}", tasks=list(range(first.num_tasks))) for i in range(1, n + 1)]
        for job, pickle_path in zip(jobs, pickle_paths):
            job.paths.move_temporary_file(pickle_path, "submitted_pickle")
        return jobs

    @property
    def _submitit_command_str(self) -> str:
        return " ".join([self.python, "-u -m submitit.core._submit", shlex.quote(str(self.folder))])

    def _make_submission_file_text(self, command: str, uid: str) -> str:
        return make_bsub_script(command=command, folder=self.folder, **self.parameters)

    def _num_tasks(self) -> int:
        return int(self.parameters.get("nodes", 1)) * max(1, int(self.parameters.get("ntasks_per_node") or 1))

    def _make_submission_command(self, submission_file_path: Path) -> list[str]:
        # bsub reads #BSUB directives only from a script given on stdin
        return ["/bin/sh", "-c", 'exec bsub < "$1"', "bsub", str(submission_file_path)]

    @staticmethod
    def _get_job_id_from_submission_command(string: bytes | str) -> str:
        """``Job <123> is submitted to queue <normal>.`` -> ``123``"""
        if not isinstance(string, str):
            string = string.decode()
        match = re.search(r"Job <(?P<id>[0-9]+)>", string)
        if match is None:
            raise utils.FailedSubmissionError(f'Could not make sense of bsub output "{string}"')
        return match.group("id")

    @classmethod
    def affinity(cls) -> int:
        return -1 if shutil.which("bsub") is None else 2


def _default_parameters() -> dict[str, tp.Any]:
    import inspect

    spec = inspect.signature(make_bsub_script)
    return {k: p.default for k, p in spec.parameters.items() if k not in {"command", "folder", "map_count"}}


def _minutes(minutes: float) -> str:
    m = int(math.ceil(minutes))
    return f"{m // 60}:{m % 60:02d}"


def make_bsub_script(
    command: str,
    folder: str | Path,
    job_name: str = "submitit",
    queue: str | None = None,
    time: int = 5,
    nodes: int = 1,
    ntasks_per_node: int | None = None,
    cpus_per_task: int | None = None,
    gpus_per_node: int | None = None,
    gpu_mode: str = "exclusive_process",
    mem: float | None = None,
    project: str | None = None,
    signal_delay_s: int = 90,
    array_parallelism: int = 256,
    exclusive: bool = False,
    setup: list[str] | None = None,
    additional_parameters: dict[str, tp.Any] | None = None,
    stderr_to_stdout: bool = False,
    task_launcher: str = "jsrun",
    map_count: int | None = None,
) -> str:
    """The text of a bsub script (``#BSUB`` directives, then the command).

    With several tasks (``nodes`` x ``ntasks_per_node`` > 1, one per GPU for DDP) the command runs once per task
    through ``task_launcher``: ``jsrun`` (one resource set per task; sets JSM_NAMESPACE_RANK / _LOCAL_RANK /
    _SIZE, which Lightning's LSFEnvironment and submitit's LSF job environment read, with LSB_DJOB_RANKFILE for
    the main node) or ``mpirun`` (OMPI_COMM_WORLD_RANK / _SIZE; Lightning's MPIEnvironment needs mpi4py)."""
    if int(time) <= 0:
        raise ValueError(f"time must be a positive number of minutes, got {time}")
    if map_count is not None and map_count < 1:
        raise ValueError(f"map_count must be >= 1, got {map_count}")
    tasks = max(1, int(ntasks_per_node or 1))
    slots = int(nodes) * tasks * max(1, int(cpus_per_task or 1))
    paths = utils.JobPaths(folder=folder)
    array = map_count is not None
    name = f"{job_name}[1-{map_count}]%{min(map_count, array_parallelism)}" if array else job_name
    lines = ["#!/bin/bash", "", "# Parameters", f'#BSUB -J "{name}"']
    lines.append(f"#BSUB -o {shlex.quote(_lsf_path(paths.stdout, array))}")
    if not stderr_to_stdout:
        lines.append(f"#BSUB -e {shlex.quote(_lsf_path(paths.stderr, array))}")
    lines.append(f"#BSUB -W {_minutes(time)}")
    lines.append(f"#BSUB -n {slots}")
    per_host = slots // int(nodes)
    lines.append(f'#BSUB -R "span[{"hosts=1" if int(nodes) == 1 else f"ptile={per_host}"}]"')
    if mem is not None:
        lines.append(f"#BSUB -M {float(mem):g}GB")
        lines.append(f'#BSUB -R "rusage[mem={float(mem) / max(per_host, 1):g}GB]"')
    if gpus_per_node:
        lines.append(f'#BSUB -gpu "num={int(gpus_per_node)}:mode={gpu_mode}"')
    if queue:
        lines.append(f"#BSUB -q {shlex.quote(str(queue))}")
    if project:
        lines.append(f"#BSUB -P {shlex.quote(str(project))}")
    if exclusive:
        lines.append("#BSUB -x")
    if signal_delay_s:
        lines.append(f"#BSUB -wa {job_environment.JobEnvironment.USR_SIG}")
        lines.append(f"#BSUB -wt {_minutes(signal_delay_s / 60)}")
    for flag, value in (additional_parameters or {}).items():
        lines.append(f"#BSUB -{flag}" + ("" if value is True else f" {shlex.quote(str(value))}"))
    if setup:
        lines += ["", "# setup", *setup]
    n_tasks = int(nodes) * tasks
    if n_tasks > 1:
        gpus_per_task = int(gpus_per_node or 0) // tasks
        if task_launcher == "jsrun":
            command = (
                f"jsrun --nrs {n_tasks} --rs_per_host {tasks} --tasks_per_rs 1 --cpu_per_rs {max(1, int(cpus_per_task or 1))} "
                f"--gpu_per_rs {gpus_per_task} --bind none {command}"
            )
        elif task_launcher == "mpirun":
            command = f"mpirun -np {n_tasks} --map-by ppr:{tasks}:node {command}"
        else:
            raise ValueError(f"task_launcher must be jsrun or mpirun (got {task_launcher!r}) for {n_tasks} tasks")
    lines += ["", "# command", "export SUBMITIT_EXECUTOR=lsf", command, ""]
    return "\n".join(lines)
