"""Launch failures end in one line naming what to fix: no scheduler command on PATH (SLURM, LSF), a failed job.

(A submission the scheduler rejects is tested on the real SLURM cluster in test_slurm.py. LSF cannot exist
here: its missing-bsub case is the real executor's check with PATH emptied.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slurm.runner import ensure_small_toycity, job_env, run_train, tiny

pytestmark = pytest.mark.slow


def _one_error_line(proc) -> str:  # noqa: ANN001
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("launcher,command", [("slurm", "sbatch/srun"), ("lsf", "bsub")])
def test_missing_scheduler_command_is_one_line(launcher: str, command: str, tmp_path: Path, cache_root: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()  # PATH without any scheduler command (the interpreter is called by its full path)
    args = ["-m", f"hydra/launcher={launcher}", f"hydra.sweep.dir={tmp_path / 'sweep'}", "stage=demo", *tiny(tmp_path / "out", cache_root)]
    line = _one_error_line(run_train(args, job_env(PATH=str(empty)), timeout=300, cwd=tmp_path))
    assert f"hydra/launcher={launcher}" in line and f"({command}) is not on PATH" in line and "hydra/launcher=local" in line


def test_a_failed_job_is_one_line_with_its_log(tmp_path: Path, cache_root: Path) -> None:
    ensure_small_toycity(cache_root)
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=local", f"hydra.sweep.dir={sweep}", "stage=demo", *tiny(tmp_path / "out", cache_root), "trainer.val_check_interval=0"]
    line = _one_error_line(run_train(args, job_env(), timeout=600, cwd=tmp_path))
    assert "trainer.val_check_interval=0: must be a positive number" in line and "hydra/launcher=local: job " in line, line
    err = Path(line.split("its log: ")[1].split(";")[0])
    assert err.is_file() and err.is_relative_to(sweep) and err.name.endswith("_log.err")
