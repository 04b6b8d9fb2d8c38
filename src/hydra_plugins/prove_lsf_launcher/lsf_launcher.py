"""The hydra-submitit-launcher machinery with the LSF executor (a Hydra plugin must live under hydra_plugins)."""

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher

from . import config  # noqa: F401 - registers hydra/launcher=submitit_lsf


class LsfLauncher(BaseSubmititLauncher):
    """``hydra/launcher=lsf`` / ``submitit_lsf``: submitit.AutoExecutor(cluster="lsf"), i.e. prove_lightning.launchers.lsf.LsfExecutor."""

    _EXECUTOR = "lsf"
