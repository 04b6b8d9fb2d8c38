"""Test checkpoints per domain on one or more test datasets; write metrics JSON + results-store rows.

    python -m prove_lightning.eval run_dir=outputs/s1/baseline/toycity/segformer_b0
    python -m prove_lightning.eval run_dir=... ckpt=all                  # every step_N.ckpt: a convergence table
    python -m prove_lightning.eval run_dir=... ckpt=[2000,4000]
    python -m prove_lightning.eval ckpt_path=[a/checkpoints/step_150.ckpt,b/checkpoints/step_150.ckpt]
    python -m prove_lightning.eval run_dir=... test_datasets=[cityscapes,acdc] save_predictions=true

Without ``test_datasets=`` a run is tested on its stage's test sets (the list training tested on). The job
itself is tasks/eval_run.py: each run's RunSpec is rebuilt from its config.yaml.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from prove_lightning.cli_errors import user_errors
from prove_lightning.config import CONF_DIR
from prove_lightning.tasks.eval_run import run_eval

__all__ = ["main", "run_eval"]


@hydra.main(config_path=str(CONF_DIR), config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with user_errors():
        run_eval(cfg)


if __name__ == "__main__":
    main()
