"""A sweep's grid as :class:`RunFacts`: expanded exactly as ``prove plan`` / ``train -m`` (tasks/plan.py), each
job composed with Hydra into its RunSpec (no model, data or torch), in ``workers`` processes for large grids
(composing takes ~0.1 s a run)."""

from __future__ import annotations

from typing import Sequence

from prove_lightning.findings.tracker import RunFacts
from prove_lightning.runs.spec import RunSpec


def facts_of(spec: RunSpec) -> RunFacts:
    """What the tracker reads of a run: its RunSpec's identity and RunDir paths."""
    from prove_lightning.runs.preflight import generated_rows

    src = spec.source
    evaluate = src is not None and src.mode == "evaluate"
    n_gen, _ = generated_rows(spec.generated)
    return RunFacts(
        run_id=spec.run_id,
        run_dir=spec.run_dir.path,
        stage=spec.stage,
        strategy=spec.strategy,
        dataset=spec.dataset,
        model=spec.model,
        max_steps=int(src.max_steps or 0) if evaluate else spec.max_steps,
        test_sets=tuple(spec.test_set_names),
        n_generated=n_gen,
        source_ckpt=(src.final_ckpt or src.run_dir / "checkpoints" / "(not started)") if evaluate else None,
    )


def _facts(hydra_ovr: Sequence[str], jobs: Sequence[Sequence[str]]) -> list[tuple[RunFacts, str, float]]:
    from prove_lightning.tasks.plan import _hydra, compose_job
    from prove_lightning.tasks.spec import build_run_spec

    out = []
    with _hydra():
        for job in jobs:
            spec = build_run_spec(compose_job(hydra_ovr, job))
            out.append((facts_of(spec), str(spec.output_root), float(spec.preflight.get("lock_stale_after_s", 900))))
    return out


def sweep_facts(overrides: Sequence[str], workers: int = 1) -> list[tuple[RunFacts, str, float]]:
    """(facts, output root, lock stale-after seconds) of every run the sweep would launch, in launch order."""
    from prove_lightning.tasks.plan import _expand, _hydra

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
