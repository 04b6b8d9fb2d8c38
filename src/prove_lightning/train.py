"""Train one run: compose config -> RunSpec -> pre-flight -> lock -> build parts -> fit (resuming) -> test.

    python -m prove_lightning.train stage=s1 strategy=baseline model=segformer_b3 dataset=toycity
    python -m prove_lightning.train -m sweep=s1 [hydra/launcher=submitit_slurm]   # a study's whole grid
    python -m prove_lightning.train --help            # config groups and options

The job itself is tasks/train_run.py (pre-flight: runs/preflight.py; identity and paths: runs/spec.py).
"""

from __future__ import annotations

import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from prove_lightning.cli_errors import user_errors
from prove_lightning.config import CONF_DIR
from prove_lightning.errors import DivergedError
from prove_lightning.runs.locks import EXIT_LOCKED, RunLocked
from prove_lightning.tasks.spec import build_run_spec
from prove_lightning.tasks.train_run import run_training, summary

__all__ = ["EXIT_DIVERGED", "main", "run_training"]

EXIT_DIVERGED = 3  # a run stopped by the divergence guard (= runs.divergence.EXIT_DIVERGED, which imports torch)


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    with user_errors():
        try:
            return summary(run_training(build_run_spec(cfg), in_sweep=in_sweep))
        except RunLocked as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_LOCKED) from None
        except DivergedError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_DIVERGED) from None


if __name__ == "__main__":
    main()
