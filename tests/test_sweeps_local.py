"""A ToyCity sweep through hydra-submitit-launcher's local launcher: each run its own process, then a relaunch
of the same grid finds everything done and runs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from prove_lightning.data.domains import DOMAINS
from prove_lightning.evaluation.results import read_results
from slurm.runner import ensure_small_toycity, job_env, run_train, tiny

pytestmark = pytest.mark.slow
STAGES = ("demo", "s2")


def test_toycity_sweep_through_submitit_local_then_a_relaunch_runs_nothing(tmp_path: Path, cache_root: Path) -> None:
    ensure_small_toycity(cache_root)
    out = tmp_path / "out"
    args = ["-m", "hydra/launcher=submitit_local", f"stage={','.join(STAGES)}", *tiny(out, cache_root, steps=4)]
    first = run_train([*args, f"hydra.sweep.dir={tmp_path / 'sweep1'}"], job_env(), timeout=900, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    store = read_results(out)
    finals = {}
    for stage in STAGES:
        run_id = f"{stage}/baseline/toycity/segformer_b0"
        rows = store[store.run_id == run_id]
        assert len(rows) == len(DOMAINS) + 1 and set(rows.step) == {4}, run_id
        finals[stage] = out / run_id / "checkpoints/step_4.ckpt"
        assert finals[stage].is_file() and (out / run_id / "config.yaml").is_file()
    logs = sorted((tmp_path / "sweep1/.submitit").glob("*/*_log.out"))
    assert len(logs) == len(STAGES)  # one process per run
    mtimes = {s: f.stat().st_mtime_ns for s, f in finals.items()}

    again = run_train([*args, f"hydra.sweep.dir={tmp_path / 'sweep2'}"], job_env(), timeout=900, cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    said = "".join(p.read_text() for p in (tmp_path / "sweep2/.submitit").glob("*/*_log.out"))
    for stage in STAGES:
        assert f"{stage}/baseline/toycity/segformer_b0: done, nothing to do" in said
        assert finals[stage].stat().st_mtime_ns == mtimes[stage]
    assert len(read_results(out)) == len(store)
