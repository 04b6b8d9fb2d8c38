"""Expand a sweep exactly as ``train -m`` would, and say what each of its runs needs, without launching anything.

The expansion is Hydra's own: the sweep file's ``hydra.sweeper.params`` plus the command-line overrides go
through Hydra's override parser and ``BasicSweeper.split_arguments`` (so ``a,b``, ``glob(...)``, ``range(...)``
and command-line narrowing behave as in a real multirun). Each run is then composed and checked by
runs/preflight.py on its RunSpec, the same code every training job runs first.
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
from prove_lightning.tasks.spec import build_run_spec
from prove_lightning.tasks.store import results_index


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


def _check_jobs(hydra_ovr: Sequence[str], jobs: Sequence[Sequence[str]]) -> list[PlannedRun]:
    """Compose and check some jobs (in this process, or in a worker of plan_sweep's pool)."""
    indexes: dict[str, ResultsIndex] = {}
    out: list[PlannedRun] = []
    with _hydra():
        for job in jobs:
            spec = build_run_spec(compose_job(hydra_ovr, job))
            root = str(spec.output_root)
            if root not in indexes:
                indexes[root] = results_index(root)
            out.append(PlannedRun(tuple(job), check_run(spec, indexes[root])))
    return out


def plan_sweep(overrides: Sequence[str], progress: bool = False, workers: int = 1) -> list[PlannedRun]:
    """Every run of the sweep with its pre-flight status (done, not_tested, locked, no_generated, no_source, to_run).

    Composing a run takes Hydra about 0.1-0.2 s, so large grids are checked by ``workers`` processes.
    """
    with _hydra() as loader:
        hydra_ovr, jobs = _expand(overrides, loader)
    chunk = 16
    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    results: list[list[PlannedRun]] = [[] for _ in chunks]
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task(f"checking {len(jobs)} runs", total=len(jobs))
    try:
        if workers <= 1 or len(chunks) <= 1:
            for i, part in enumerate(chunks):
                results[i] = _check_jobs(hydra_ovr, part)
                if bar is not None:
                    bar.advance(task, len(part))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(_check_jobs, list(hydra_ovr), part): i for i, part in enumerate(chunks)}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    if bar is not None:
                        bar.advance(task, len(chunks[futures[fut]]))
    finally:
        if bar is not None:
            bar.stop()
    return [run for part in results for run in part]


def count_by_status(planned: Sequence[PlannedRun]) -> dict[str, int]:
    counts = Counter(p.status for p in planned)
    return {s: counts.get(s, 0) for s in STATUSES}
