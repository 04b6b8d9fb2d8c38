"""Test checkpoints per domain and write metrics JSON + results-store rows.

    python -m prove_lightning.eval run_dir=outputs/s1/baseline/toycity/segformer_b0
    python -m prove_lightning.eval run_dir=... ckpt=all        # every step_N.ckpt: a convergence table
    python -m prove_lightning.eval ckpt_path=.../checkpoints/step_150.ckpt
"""

from __future__ import annotations

import re
from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf

from prove_lightning.cli_errors import user_errors
from prove_lightning.config import CONF_DIR
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.testing import format_table, test_checkpoint


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
        wanted = [int(s) for s in (which if isinstance(which, (list, ListConfig)) else [which])]
        by_step = dict(steps)
        missing = [s for s in wanted if s not in by_step]
        if missing:
            raise ConfigError(f"{run_dir}: no checkpoints for steps {missing}; available: {[s for s, _ in steps]}")
        chosen = [by_step[s] for s in wanted]
    if not chosen:
        raise ConfigError(f"{run_dir}: no checkpoints found in {ckdir}; train the run first")
    return chosen


def run_eval(cfg: DictConfig) -> list[dict]:
    if not cfg.run_dir and not cfg.ckpt_path:
        raise ConfigError("give run_dir=<run directory> or ckpt_path=<checkpoint file>")
    if cfg.ckpt_path:
        ckpts = [Path(cfg.ckpt_path)]
        if not ckpts[0].is_file():
            raise ConfigError(f"ckpt_path={cfg.ckpt_path} does not exist")
        run_dir = run_dir_of_checkpoint(ckpts[0])
    else:
        run_dir = Path(cfg.run_dir).resolve()
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"run_dir={run_dir} holds no config.yaml; is it a prove run directory?")
    run_cfg = OmegaConf.load(run_dir / "config.yaml")
    if not cfg.ckpt_path:
        ckpts = select_checkpoints(run_dir, run_cfg, cfg.ckpt)
    OmegaConf.update(run_cfg, "run_dir", str(run_dir), force_add=True)
    store = cfg.store_root or run_cfg.paths.output_root
    rows: list[dict] = []
    for ck in ckpts:
        rows += test_checkpoint(run_cfg, ck, store_root=store, accelerator=cfg.accelerator)
    print(format_table(rows, title=f"{run_cfg.run_relpath}: mIoU per domain"))
    return rows


@hydra.main(config_path=str(CONF_DIR), config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with user_errors():
        run_eval(cfg)


if __name__ == "__main__":
    main()
