"""Build a run's parts (datamodule, module, trainer) from the resolved config a RunSpec carries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from prove_lightning.config import instantiate

if TYPE_CHECKING:
    import pytorch_lightning as pl


def build_module(config: Mapping[str, Any], test_dataset_names: Sequence[str] = ()) -> pl.LightningModule:
    from prove_lightning.optim import global_batch_size, scaled_lr

    model, trainer = config["model"], config["trainer"]
    net = instantiate(model["net"])
    loss = instantiate(config["loss"]["fn"])
    batch = global_batch_size(config["data"]["batch_size"], trainer.get("devices", 1), trainer.get("num_nodes", 1))
    lr = scaled_lr(model["lr"], batch, model["reference_batch_size"], model["lr_scaling"])
    module = instantiate(config["module"], net=net, loss=loss, lr=lr, test_dataset_names=list(test_dataset_names), _convert_="all")
    # set after building (a _target_ dict passed to instantiate would be instantiated): load_from_checkpoint rebuilds from these
    module.hparams.update(net_config=_plain(model["net"]), loss_config=_plain(config["loss"]["fn"]))
    return module


def _plain(node: Any) -> Any:
    """Plain containers (resolved in place when a DictConfig, so interpolations to the rest of the config work)."""
    import copy

    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else copy.deepcopy(node)


def build_trainer(config: Mapping[str, Any], callbacks: list[Any] | None = None) -> pl.Trainer:
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from prove_lightning.runs.checkpoint_io import AtomicCheckpointIO

    from prove_lightning.tasks.loggers import build_loggers, log_hparams
    from prove_lightning.runs.progress import wants_plain_progress

    callbacks = (callbacks or []) + [instantiate(c) for c in (config.get("callbacks") or {}).values() if c is not None]
    loggers = build_loggers(config)
    log_hparams(loggers, config)
    trainer = dict(config["trainer"])
    detect = bool(trainer.pop("detect_divergence", True))  # ours, not a Trainer flag
    if detect:
        from prove_lightning.runs.divergence import DivergenceGuard

        div = config.get("divergence") or {}
        callbacks.insert(0, DivergenceGuard(config["run_dir"], div.get("loss_spike_factor"), div.get("window", 50)))
    overrides: dict[str, Any] = {}
    if wants_plain_progress(callbacks):  # stdout is a file or a pipe: plain lines instead of the live bar
        overrides["enable_progress_bar"] = False
    if trainer["val_check_interval"] > trainer["max_steps"]:
        overrides["val_check_interval"] = int(trainer["max_steps"])
    plugins: list[Any] = [AtomicCheckpointIO(refuse_nonfinite=detect)]
    if SLURMEnvironment.detect():
        # requeueing is submitit's job (or the scheduler's); callbacks.preemption saves last.ckpt for it
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return instantiate(
        trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins, default_root_dir=config["run_dir"], **overrides
    )
