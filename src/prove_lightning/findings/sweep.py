"""A sweep's grid as :class:`RunFacts`: expanded exactly as ``prove plan`` / ``train -m`` (runs/plan.py), composed
with Hydra (no model, data or torch), in ``workers`` processes for large grids (composing takes ~0.1 s a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from prove_lightning.findings.tracker import RunFacts


def facts_of(cfg) -> RunFacts:  # noqa: ANN001 - a composed DictConfig
    from prove_lightning.runs.preflight import generated_rows
    from prove_lightning.runs.stage import source_run, stage_test_set_names

    src = source_run(cfg)
    n_gen, _ = generated_rows(cfg)
    return RunFacts(
        run_id=str(cfg.run_relpath),
        run_dir=Path(cfg.run_dir).resolve(),
        stage=str(cfg.stage.name),
        strategy=str(cfg.strategy.name),
        dataset=str(cfg.dataset.name),
        model=str(cfg.model.name),
        max_steps=int(src.max_steps or 0) if src is not None and src.mode == "evaluate" else int(cfg.trainer.max_steps),
        test_sets=tuple(stage_test_set_names(cfg)),
        n_generated=n_gen,
        source_ckpt=(src.final_ckpt or src.run_dir / "checkpoints" / "(not started)") if src is not None and src.mode == "evaluate" else None,
    )


def _facts(hydra_ovr: Sequence[str], jobs: Sequence[Sequence[str]]) -> list[tuple[RunFacts, str, float]]:
    from prove_lightning.runs.plan import _hydra, compose_job

    out = []
    with _hydra():
        for job in jobs:
            cfg = compose_job(hydra_ovr, job)
            stale = float(cfg.get("preflight", {}).get("lock_stale_after_s", 900))
            out.append((facts_of(cfg), str(cfg.paths.output_root), stale))
    return out


def sweep_facts(overrides: Sequence[str], workers: int = 1) -> list[tuple[RunFacts, str, float]]:
    """(facts, output root, lock stale-after seconds) of every run the sweep would launch, in launch order."""
    from prove_lightning.runs.plan import _expand, _hydra

    with _hydra() as loader:
        hydra_ovr, jobs = _expand(overrides, loader)
    chunk = 16
    parts = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    if workers <= 1 or len(parts) <= 1:
        return [x for p in parts for x in _facts(hydra_ovr, p)]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(workers, len(parts)), mp_context=mp.get_context("spawn")) as pool:
        return [x for res in pool.map(_facts, [list(hydra_ovr)] * len(parts), parts) for x in res]
