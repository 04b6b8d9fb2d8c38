"""Multi-process training helpers: devices per node, the world size check, the once-only final checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing import Mapping

from prove_lightning.errors import ConfigError

if TYPE_CHECKING:
    import pytorch_lightning as pl


def devices_per_node(config: Mapping[str, Any]) -> int:
    """``trainer.devices`` as a count (a list of ids counts its length; 'auto' / -1: the visible GPUs, or 1)."""
    from prove_lightning.optim import global_batch_size

    return global_batch_size(1, config["trainer"].get("devices", 1))


def in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def check_world(config: Mapping[str, Any], trainer: pl.Trainer, in_multirun: bool = False) -> None:
    """Refuse set-ups that cannot work, with the fix, before any worker starts.

    Lightning's subprocess launcher starts the other ranks by re-running this process's command line; inside a
    Hydra sweep (``-m``) that would re-run the whole sweep, and inside a submitit job the job runner. There the
    ranks must come from the scheduler (one task per device: ``hydra/launcher=slurm_ddp``)."""
    env = getattr(trainer.strategy, "cluster_environment", None)
    if trainer.world_size > 1 and env is not None and not env.creates_processes_externally and in_multirun:
        raise ConfigError(
            f"trainer.devices={config['trainer'].get('devices')} inside a sweep: Lightning would start the other ranks by re-running "
            "the whole sweep. Give each job one task per device from the scheduler instead "
            "(hydra/launcher=slurm_ddp, or lsf_ddp), or run the multi-device run on its own, without -m"
        )


def save_final(trainer: pl.Trainer, final: Path, max_steps: int) -> None:
    """Save checkpoints/step_<max_steps>.ckpt once, if the checkpoint callback did not already.

    ``trainer.save_checkpoint`` is collective (rank 0 writes, every rank meets at a barrier), so whether to call
    it is decided on rank 0 and broadcast: a rank seeing the file rank 0 just wrote must not skip the barrier."""
    need = trainer.global_step >= max_steps and not final.is_file()
    if trainer.world_size > 1:
        need = bool(trainer.strategy.broadcast(need, src=0))
    if need:
        trainer.save_checkpoint(final)


def batch_record(config: Mapping[str, Any], trainer: pl.Trainer, lr: float) -> dict[str, Any]:
    """What one optimizer step sees, for audit.json: per-device batch x world size = the global batch the LR
    rule scaled by."""
    per_device, model = int(config["data"]["batch_size"]), config["model"]
    return {
        "per_device": per_device,
        "world_size": int(trainer.world_size),
        "num_nodes": int(trainer.num_nodes),
        "global": per_device * int(trainer.world_size),
        "lr": float(lr),
        "lr_rule": f"{model['lr_scaling']}: {model['lr']} at batch {model['reference_batch_size']}",
    }


def single_process_plugins() -> list[Any]:
    """Plugins for a Trainer that runs in this process alone (rank 0's final test) inside a multi-task job.

    Lightning would otherwise pick the scheduler's environment (SLURM, LSF, torchrun) and refuse devices=1
    against the job's tasks per node; a plain LightningEnvironment keeps it a one-process run."""
    from lightning_fabric.plugins.environments import LightningEnvironment, LSFEnvironment, SLURMEnvironment, TorchElasticEnvironment

    if any(env.detect() for env in (SLURMEnvironment, LSFEnvironment, TorchElasticEnvironment)):
        return [LightningEnvironment()]
    return []
