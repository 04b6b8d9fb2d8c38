"""Config values checked before anything is built or written: a bad value is one ConfigError naming the option.

Hydra accepts any string for any key (``seed=abc``) and torch / Lightning only fail deep inside a run with a
traceback; every value a run reads as a number is checked here, with the option name and an example fix.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from prove_lightning.errors import ConfigError

_MISSING = object()


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=_MISSING, throw_on_resolution_failure=False)


def _number(cfg: DictConfig, key: str, kind: Callable[[Any], Any], check: Callable[[Any], bool], need: str, example: str, optional: bool = False) -> None:
    raw = _get(cfg, key)
    if raw is _MISSING or (raw is None and optional):
        return
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = kind(raw)
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={raw}: must be {need}, e.g. {key}={example}") from None
    if not check(value):
        raise ConfigError(f"{key}={raw}: must be {need}, e.g. {key}={example}")


def _flag(cfg: DictConfig, key: str) -> None:
    raw = _get(cfg, key)
    if raw is not _MISSING and not isinstance(raw, bool):
        raise ConfigError(f"{key}={raw}: must be true or false, e.g. {key}=false")


def validate_train_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value a training run would read."""
    _number(cfg, "seed", int, lambda v: v >= 0, "a non-negative integer", "42")
    _number(cfg, "trainer.max_steps", int, lambda v: True, "a positive number of steps", "1000")
    if int(cfg.trainer.max_steps) <= 0:  # kept word for word: scripts grep for it
        raise ConfigError(f"trainer.max_steps must be a positive number of steps, got {cfg.trainer.max_steps}")
    _number(cfg, "trainer.val_check_interval", int, lambda v: v > 0, "a positive number of steps (> 0)", "500")
    _number(cfg, "stage.checkpoint_interval", int, lambda v: v > 0, "a positive number of steps", "1000", optional=True)
    _number(cfg, "data.batch_size", int, lambda v: v > 0, "a positive batch size (> 0)", "8")
    _number(cfg, "data.eval_batch_size", int, lambda v: v > 0, "a positive batch size", "1", optional=True)
    _number(cfg, "data.num_workers", int, lambda v: v >= 0, "a non-negative number of loader processes (0 = load in the main process)", "2")
    _number(cfg, "model.lr", float, lambda v: v > 0, "a positive learning rate", "6e-5")
    _number(cfg, "strategy.ratio", float, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1] (the real fraction of each batch)", "0.5", optional=True)
    _number(cfg, "trainer.gradient_clip_val", float, lambda v: v >= 0, "a non-negative max gradient norm or null", "1.0", optional=True)
    _flag(cfg, "trainer.detect_divergence")
    _number(cfg, "divergence.loss_spike_factor", float, lambda v: v > 1, "a factor > 1 (stop when the loss exceeds it x its running median) or null", "100", optional=True)
    _number(cfg, "divergence.window", int, lambda v: v > 0, "a positive number of steps", "50", optional=True)
    _flag(cfg, "test_after_training")
    ckpt = _get(cfg, "ckpt_path")
    if ckpt not in (_MISSING, None, "") and not Path(str(ckpt)).is_file():
        raise ConfigError(f"ckpt_path={ckpt} does not exist; drop it to resume from the run's own checkpoints/last.ckpt")
