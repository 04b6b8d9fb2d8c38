"""Hydra launcher plugin: run sweeps on LSF through prove_lightning.launchers.lsf (hydra/launcher=submitit_lsf)."""
