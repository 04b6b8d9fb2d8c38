"""``prove eval``: which checkpoints of which runs to test, on which test sets; tables of the results.

A run is rebuilt from its saved config.yaml into the same RunSpec training used, so without
``test_datasets=`` a checkpoint is tested on the stage's test sets, exactly as training tested it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from prove_lightning.errors import ConfigError
from prove_lightning.runs.spec import RunDir, RunSpec
from prove_lightning.tasks.spec import build_run_spec


def run_dir_of_checkpoint(ckpt: Path) -> Path:
    run_dir = ckpt.resolve().parent.parent
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{ckpt}: no config.yaml in {run_dir}; a checkpoint must sit in <run_dir>/checkpoints/ of a prove run")
    return run_dir


def load_run_spec(run_dir: Path) -> RunSpec:
    """The RunSpec of a run directory, from its config.yaml (the run may have moved: its path is where it is now)."""
    run_cfg = OmegaConf.load(RunDir(run_dir).config_yaml)
    OmegaConf.set_struct(run_cfg, False)
    return build_run_spec(run_cfg, run_dir=run_dir)


def select_checkpoints(spec: RunSpec, which: str | int | list) -> list[Path]:
    run_dir = spec.run_dir
    steps = run_dir.step_checkpoints()
    if which == "all":
        chosen = [p for _, p in steps]
    elif which == "final":
        final = spec.final_ckpt
        chosen = [final] if final.is_file() else []
        if not chosen:
            raise ConfigError(f"{run_dir.path}: the final checkpoint {final.name} does not exist (training unfinished?); use ckpt=last or ckpt=all")
    elif which == "last":
        chosen = [run_dir.last_ckpt] if run_dir.last_ckpt.is_file() else []
    else:
        try:
            wanted = [int(s) for s in (which if isinstance(which, (list, ListConfig)) else [which])]
        except (TypeError, ValueError):
            raise ConfigError(f"ckpt={which!r}: use final, last, all, a step number or a list of steps") from None
        by_step = dict(steps)
        missing = [s for s in wanted if s not in by_step]
        if missing:
            raise ConfigError(f"{run_dir.path}: no checkpoints for steps {missing}; available: {[s for s, _ in steps]}")
        chosen = [by_step[s] for s in wanted]
    if not chosen:
        raise ConfigError(f"{run_dir.path}: no checkpoints found in {run_dir.checkpoints}; train the run first")
    return chosen


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple, ListConfig)) else [v]


def plan(cfg: DictConfig) -> dict[Path, list[Path]]:
    """Which checkpoints of which runs to test: {run_dir: [checkpoint, ...]} in the order given."""
    ckpt_paths, run_dirs = _as_list(cfg.ckpt_path), _as_list(cfg.run_dir)
    if not ckpt_paths and not run_dirs:
        raise ConfigError("give run_dir=<run directory> (or a list) or ckpt_path=<checkpoint file> (or a list)")
    todo: dict[Path, list[Path]] = defaultdict(list)
    for c in ckpt_paths:
        ck = Path(c)
        if not ck.is_file():
            raise ConfigError(f"ckpt_path={c} does not exist")
        todo[run_dir_of_checkpoint(ck)].append(ck.resolve())
    if not ckpt_paths:
        for r in run_dirs:
            run_dir = Path(r).resolve()
            if not (run_dir / "config.yaml").is_file():
                raise ConfigError(f"run_dir={r} holds no config.yaml; is it a prove run directory?")
            todo[run_dir] += select_checkpoints(load_run_spec(run_dir), cfg.ckpt)
    return dict(todo)


def run_eval(cfg: DictConfig) -> list[dict]:
    """Test every planned checkpoint on the test sets; print per-domain (and convergence) tables; return all rows."""
    from prove_lightning.evaluation.results import STORE_NAME
    from prove_lightning.io import set_shared_permissions
    from prove_lightning.evaluation.testing import format_convergence, format_table
    from prove_lightning.tasks.test_run import test_checkpoint
    from prove_lightning.tasks.testsets import resolve_test_sets

    todo = plan(cfg)
    get = lambda key, default=None: OmegaConf.select(cfg, key, default=default)  # noqa: E731 - cfg may be a partial config
    overrides = OmegaConf.to_container(get("test_dataset_overrides") or OmegaConf.create({}), resolve=True)
    names = [str(n) for n in _as_list(get("test_datasets"))] or None
    progress = bool(get("progress", True))
    all_rows: list[dict] = []
    n_total, n_done = sum(len(v) for v in todo.values()), 0
    for run_dir, ckpts in todo.items():
        spec = load_run_spec(run_dir)
        run_paths = spec.config.get("paths") or {}
        set_shared_permissions(run_paths.get("file_mode"), run_paths.get("group"))  # the run's shared-folder modes
        paths = OmegaConf.to_container(get("paths"), resolve=True) if names and get("paths") is not None else None
        test_sets = resolve_test_sets(spec, names, overrides, paths=paths)
        store = get("store_root") or spec.output_root
        run_rows: list[dict] = []
        for ck in ckpts:
            n_done += 1
            print(f"[{n_done}/{n_total}] {spec.run_id}: {ck.name} on {', '.join(t.name for t in test_sets)}", flush=True)
            rows = test_checkpoint(
                spec,
                ck,
                test_sets=test_sets,
                store_root=store,
                accelerator=get("accelerator", "auto"),
                progress=progress,
                save_predictions=bool(get("save_predictions", False)),
                num_workers=int(get("num_workers", 0)),
                miou_convention=get("miou_convention"),
            )
            print(format_table(rows, title=f"{spec.run_id} @ step {rows[0]['step'] if rows else '?'}: mIoU per domain"))
            run_rows += rows
        if len({r["step"] for r in run_rows}) > 1:
            print(format_convergence(run_rows, title=f"{spec.run_id}: mIoU per domain by checkpoint step"))
        print(f"results: {Path(store) / STORE_NAME}")
        all_rows += run_rows
    return all_rows
