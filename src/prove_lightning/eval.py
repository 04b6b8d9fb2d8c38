"""Test checkpoints per domain on one or more test datasets; write metrics JSON + results-store rows.

    python -m prove_lightning.eval run_dir=outputs/s1/baseline/toycity/segformer_b0
    python -m prove_lightning.eval run_dir=... ckpt=all                  # every step_N.ckpt: a convergence table
    python -m prove_lightning.eval run_dir=... ckpt=[2000,4000]
    python -m prove_lightning.eval ckpt_path=[a/checkpoints/step_150.ckpt,b/checkpoints/step_150.ckpt]
    python -m prove_lightning.eval run_dir=... test_datasets=[cityscapes,acdc] save_predictions=true
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf

from prove_lightning.cli_errors import user_errors
from prove_lightning.config import CONF_DIR
from prove_lightning.errors import ConfigError


def run_dir_of_checkpoint(ckpt: Path) -> Path:
    run_dir = ckpt.resolve().parent.parent
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{ckpt}: no config.yaml in {run_dir}; a checkpoint must sit in <run_dir>/checkpoints/ of a prove run")
    return run_dir


def select_checkpoints(run_dir: Path, run_cfg: DictConfig, which: str | int | list) -> list[Path]:
    ckdir = run_dir / "checkpoints"
    steps = sorted(
        (int(m.group(1)), p) for p in ckdir.glob("step_*.ckpt") if (m := re.fullmatch(r"step_(\d+)\.ckpt", p.name))
    )
    if which == "all":
        chosen = [p for _, p in steps]
    elif which == "final":
        final = ckdir / f"step_{run_cfg.trainer.max_steps}.ckpt"
        chosen = [final] if final.is_file() else []
        if not chosen:
            raise ConfigError(f"{run_dir}: the final checkpoint {final.name} does not exist (training unfinished?); use ckpt=last or ckpt=all")
    elif which == "last":
        chosen = [ckdir / "last.ckpt"] if (ckdir / "last.ckpt").is_file() else []
    else:
        try:
            wanted = [int(s) for s in (which if isinstance(which, (list, ListConfig)) else [which])]
        except (TypeError, ValueError):
            raise ConfigError(f"ckpt={which!r}: use final, last, all, a step number or a list of steps") from None
        by_step = dict(steps)
        missing = [s for s in wanted if s not in by_step]
        if missing:
            raise ConfigError(f"{run_dir}: no checkpoints for steps {missing}; available: {[s for s, _ in steps]}")
        chosen = [by_step[s] for s in wanted]
    if not chosen:
        raise ConfigError(f"{run_dir}: no checkpoints found in {ckdir}; train the run first")
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
            todo[run_dir] += select_checkpoints(run_dir, OmegaConf.load(run_dir / "config.yaml"), cfg.ckpt)
    return dict(todo)


def run_eval(cfg: DictConfig) -> list[dict]:
    """Test every planned checkpoint on the test sets; print per-domain (and convergence) tables; return all rows."""
    from prove_lightning.evaluation.testing import format_convergence, format_table, test_checkpoint
    from prove_lightning.evaluation.testsets import resolve_test_sets

    todo = plan(cfg)
    get = lambda key, default=None: OmegaConf.select(cfg, key, default=default)  # noqa: E731 - cfg may be a partial config
    overrides = OmegaConf.to_container(get("test_dataset_overrides") or OmegaConf.create({}), resolve=True)
    names = [str(n) for n in _as_list(get("test_datasets"))] or None
    progress = bool(get("progress", True))
    all_rows: list[dict] = []
    n_total, n_done = sum(len(v) for v in todo.values()), 0
    for run_dir, ckpts in todo.items():
        run_cfg = OmegaConf.load(run_dir / "config.yaml")
        OmegaConf.set_struct(run_cfg, False)
        OmegaConf.update(run_cfg, "run_dir", str(run_dir), force_add=True)
        paths = get("paths") if names else None
        test_sets = resolve_test_sets(run_cfg, names, overrides, paths=paths)
        store = get("store_root") or run_cfg.paths.output_root
        run_rows: list[dict] = []
        for ck in ckpts:
            n_done += 1
            print(f"[{n_done}/{n_total}] {run_cfg.run_relpath}: {ck.name} on {', '.join(t.name for t in test_sets)}", flush=True)
            rows = test_checkpoint(
                run_cfg,
                ck,
                store_root=store,
                accelerator=get("accelerator", "auto"),
                progress=progress,
                test_sets=test_sets,
                save_predictions=bool(get("save_predictions", False)),
                num_workers=int(get("num_workers", 0)),
                miou_convention=get("miou_convention"),
            )
            print(format_table(rows, title=f"{run_cfg.run_relpath} @ step {rows[0]['step'] if rows else '?'}: mIoU per domain"))
            run_rows += rows
        if len({r["step"] for r in run_rows}) > 1:
            print(format_convergence(run_rows, title=f"{run_cfg.run_relpath}: mIoU per domain by checkpoint step"))
        print(f"results: {Path(store) / 'results.csv'}")
        all_rows += run_rows
    return all_rows


@hydra.main(config_path=str(CONF_DIR), config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with user_errors():
        run_eval(cfg)


if __name__ == "__main__":
    main()
