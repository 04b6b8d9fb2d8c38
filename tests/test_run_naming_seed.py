"""Seeds as a sweep axis: a seed other than the default enters the run directory (and so the run id)."""

from __future__ import annotations

from pathlib import Path

from conftest import compose_train
from prove_lightning.runs.naming import run_relpath
from prove_lightning.tasks.plan import expand_sweep
from prove_lightning.tasks.spec import build_run_spec


def test_seed_enters_run_dir_only_when_not_default(tmp_path: Path) -> None:
    assert run_relpath("s1", "gen_A", "bdd10k", "m", ratio=0.5, loss="lovasz", seed=7, default_seed=42) == "s1/gen_A/bdd10k/m_ratio0p50_lovasz_seed7"
    assert run_relpath("s1", "gen_A", "bdd10k", "m", seed=42, default_seed=42) == "s1/gen_A/bdd10k/m"
    default = build_run_spec(compose_train([], tmp_path, tmp_path))
    other = build_run_spec(compose_train(["seed=7"], tmp_path, tmp_path))
    assert default.seed == 42 and not default.run_id.endswith("_seed42")
    assert other.seed == 7 and other.run_id == default.run_id + "_seed7" and other.run_dir.path.name.endswith("_seed7")
    assert other.row_identity["seed"] == 7


def test_seed_sweep_gives_one_run_per_seed() -> None:
    jobs = expand_sweep(["sweep=demo", "strategy=baseline", "seed=1,2,42"])
    assert sorted(j for job in jobs for j in job if j.startswith("seed=")) == ["seed=1", "seed=2", "seed=42"]
