"""The launchers of hydra/launcher=slurm|lsf|local: failures end in one line (prove_lightning.launchers.guard)."""

from typing import Any, Sequence

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
from hydra_plugins.prove_lsf_launcher.lsf_launcher import LsfLauncher

from prove_lightning.launchers.guard import launch_explained


class ExplainedSlurmLauncher(SlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        return launch_explained("slurm", lambda: super(ExplainedSlurmLauncher, self).launch(job_overrides, initial_job_idx))


class ExplainedLsfLauncher(LsfLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        return launch_explained("lsf", lambda: super(ExplainedLsfLauncher, self).launch(job_overrides, initial_job_idx))


class ExplainedLocalLauncher(LocalLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        return launch_explained("local", lambda: super(ExplainedLocalLauncher, self).launch(job_overrides, initial_job_idx))
