"""Hydra launcher plugins: hydra-submitit-launcher's SLURM and local launchers and our LSF one, with launch failures
explained in one line (prove_lightning.launchers.guard); conf/hydra/launcher/{slurm,lsf,local}.yaml select them."""
