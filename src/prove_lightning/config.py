"""Config helpers shared by the entry points: resolvers, the conf/ location, composing without @hydra.main."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

from prove_lightning.runs.grid import strategy_glob
from prove_lightning.runs.naming import run_relpath

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _run_relpath(stage, strategy, dataset, model, augment=None, ratio=None, loss=None, strategy_augment=None, seed=None, default_seed=None) -> str:  # noqa: ANN001
    return run_relpath(
        stage=stage, strategy=strategy, dataset=dataset, model=model, augment=augment, ratio=ratio, loss=loss,
        strategy_augment=strategy_augment, seed=seed, default_seed=default_seed,
    )


def default_num_workers(cores: int | None = None) -> int:
    """DataLoader workers for this machine: the CPUs this process may use (its affinity, i.e. a SLURM job's
    allocation where the run starts), half of them (the other half trains), at most 8; 1 on 1-3 cores.

    The loader delivers ~20x a CPU model's rate per worker, so on a 2-core machine 2 workers only take time
    from training (8% per step measured); 1 worker still overlaps loading with the step.
    """
    if cores is None:
        import os

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores // 2))


def _num_workers(value: str | int | None = None) -> int:
    """``${prove.num_workers:}`` = :func:`default_num_workers`; ``${prove.num_workers:3}`` = 3 (an explicit count)."""
    return default_num_workers() if value in (None, "") else int(value)


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("prove.run_relpath", _run_relpath, replace=True)
    OmegaConf.register_new_resolver("prove.num_workers", _num_workers, replace=True)
    OmegaConf.register_new_resolver("prove.strategy_glob", strategy_glob, replace=True)


register_resolvers()


def compose(config_name: str = "train", overrides: Sequence[str] = ()) -> DictConfig:
    """Compose a config exactly as the entry point would (for tests, notebooks and the demo)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    OmegaConf.set_struct(cfg, False)
    return cfg


def instantiate(node, *args, **kwargs):  # noqa: ANN001, ANN201
    """hydra.utils.instantiate, but a user-fixable ProveError raised inside surfaces as itself."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    from prove_lightning.cli_errors import find_prove_error

    try:
        return hydra_instantiate(node, *args, **kwargs)
    except InstantiationException as exc:
        err = find_prove_error(exc)
        if err is not None:
            raise err from exc
        raise
