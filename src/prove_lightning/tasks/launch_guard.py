"""A Hydra callback that refuses a bad launch before Hydra creates or writes anything in the run directory.

Hydra resolves ``hydra.run.dir`` and creates it before the task function runs, so a bad value (``seed=abc``,
``strategy.ratio=abc``) or an unwritable output root would end in Hydra's traceback, not in our one-line error.
``on_run_start`` / ``on_multirun_start`` run first: they validate the config values (validation.py) and check
that the output root can be written, printing one ``error: ...`` line and exiting with status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from prove_lightning.cli_errors import EXIT_USER_ERROR, find_prove_error
from prove_lightning.errors import ProveError, StorageError


def writable_root(path: Path) -> None:
    """StorageError unless ``path`` (or its nearest existing parent, where it would be created) can be written."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):  # also False for root on a read-only mount (EROFS)
        why = "read-only file system" if _read_only_mount(probe) else "permission denied"
        raise StorageError(f"cannot write under {path}: {probe} is not writable ({why}); nothing was written or overwritten. Set paths.output_root to a writable location")


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class LaunchGuard(Callback):
    def _check(self, config: DictConfig) -> None:
        from prove_lightning.validation import validate_train_config

        try:
            validate_train_config(config)
            root = OmegaConf.select(config, "paths.output_root", throw_on_resolution_failure=False)
            if root:
                writable_root(Path(str(root)).resolve())
            if "run_dir" in config:
                str(config.run_dir)  # resolves the run directory: a bad part of its name is a ConfigError
        except Exception as exc:  # noqa: BLE001 - only user-fixable errors are turned into one line
            err = exc if isinstance(exc, ProveError) else find_prove_error(exc)
            if err is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # a sweep's config holds the first job's values only; every job is validated again in run_training
        root = OmegaConf.select(config, "paths.output_root", throw_on_resolution_failure=False)
        try:
            if root:
                writable_root(Path(str(root)).resolve())
        except StorageError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
