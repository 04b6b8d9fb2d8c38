"""Expand a sweep exactly as ``train -m`` would, and say what each of its runs needs, without launching anything.

The expansion is Hydra's own: the sweep file's ``hydra.sweeper.params`` plus the command-line overrides go
through Hydra's override parser and ``BasicSweeper.split_arguments`` (so ``a,b``, ``glob(...)``, ``range(...)``
and command-line narrowing behave as in a real multirun). Each run is then composed and checked by
runs/preflight.py, the same code every training job runs first.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

from omegaconf import DictConfig, OmegaConf

from prove_lightning.config import CONF_DIR
from prove_lightning.errors import ConfigError
from prove_lightning.runs.preflight import STATUSES, Check, ResultsIndex, check_run
from prove_lightning.runs.stage import apply_test_sets


@dataclass(frozen=True)
class PlannedRun:
    overrides: tuple[str, ...]
    check: Check

    @property
    def status(self) -> str:
        return self.check.status


@contextmanager
def _hydra(config_name: str = "train") -> Iterator[object]:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield GlobalHydra.instance().config_loader()


def _parse(overrides: Sequence[str], loader: object) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create(config_loader=loader).parse_overrides(list(overrides))  # type: ignore[arg-type]
    except OverrideParseException as e:
        raise ConfigError(f"cannot parse overrides {list(overrides)}: {e}") from None


def _compose(overrides: Sequence[str], return_hydra_config: bool = False) -> DictConfig:
    from hydra import compose
    from hydra.errors import HydraException

    try:
        cfg = compose(config_name="train", overrides=list(overrides), return_hydra_config=return_hydra_config)
    except HydraException as e:
        raise ConfigError(f"{e}") from None
    OmegaConf.set_struct(cfg, False)
    return cfg


def _expand(overrides: Sequence[str], loader: object) -> tuple[list[str], list[list[str]]]:
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parsed = _parse(overrides, loader)
    hydra_ovr = [o.input_line for o in parsed if o.is_hydra_override()]
    task = [o.input_line for o in parsed if not o.is_hydra_override()]
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    base = _compose(fixed, return_hydra_config=True)
    params = OmegaConf.select(base, "hydra.sweeper.params", default=None) or {}
    arguments = [f"{k}={v}" for k, v in params.items()] + task
    jobs = BasicSweeper.split_arguments(_parse(arguments, loader), None)[0]
    return hydra_ovr, [list(j) for j in jobs]


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """The override list of every job ``python -m prove_lightning.train -m <overrides>`` would launch."""
    with _hydra() as loader:
        return _expand(overrides, loader)[1]


def compose_job(hydra_overrides: Sequence[str], job: Sequence[str]) -> DictConfig:
    cfg = _compose([*hydra_overrides, *job])
    cfg.pop("hydra", None)
    return cfg


def plan_sweep(overrides: Sequence[str], progress: bool = False) -> list[PlannedRun]:
    """Every run of the sweep with its pre-flight status (done, not_tested, locked, no_generated, no_source, to_run)."""
    with _hydra() as loader:
        hydra_ovr, jobs = _expand(overrides, loader)
        indexes: dict[str, ResultsIndex] = {}
        planned: list[PlannedRun] = []
        iterator: object = jobs
        if progress:
            from rich.progress import track

            iterator = track(jobs, description="checking runs", transient=True)
        for job in iterator:  # type: ignore[attr-defined]
            cfg = compose_job(hydra_ovr, job)
            root = str(cfg.paths.output_root)
            if root not in indexes:
                indexes[root] = ResultsIndex(root)
            apply_test_sets(cfg)
            planned.append(PlannedRun(tuple(job), check_run(cfg, indexes[root])))
    return planned


def count_by_status(planned: Sequence[PlannedRun]) -> dict[str, int]:
    counts = Counter(p.status for p in planned)
    return {s: counts.get(s, 0) for s in STATUSES}
