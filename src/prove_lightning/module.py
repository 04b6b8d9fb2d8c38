"""SegModule: one training step, per-domain confusion matrices in validation and test, optimizer + schedule."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Callable, Sequence

import numpy as np
import torch
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_warn
from torch import nn
from torch.utils.data import DistributedSampler

from prove_lightning.data.domains import DOMAINS
from prove_lightning.labelspace import CITYSCAPES_CLASSES, IGNORE_INDEX
from prove_lightning.data.sampler import sample_seed
from prove_lightning.data.shard import ShardSampler
from prove_lightning.evaluation.inference import check_inference, predict_logits
from prove_lightning.evaluation.metrics import EXT, confusion_counts, finalize_confusion, metrics_from_confusion
from prove_lightning.evaluation.visualize import pick_fixed_samples, prediction_grid, prediction_row
from prove_lightning.optim import build_optimizer, build_scheduler

# our transfer_batch_to_device is meant to be used with our datamodule: Lightning's notice about it is noise
warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device` in `LightningModule`.*")
# val/test metrics are computed from confusion counts already summed over ranks (_reduced): logging them with
# sync_dist would average equal numbers, so Lightning's advice to do so under DDP does not apply
warnings.filterwarnings("ignore", message=r".*It is recommended to use `self.log\('val.*sync_dist=True.*")

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


def _build(what: str, config: dict[str, Any] | None) -> nn.Module:
    """Rebuild the network or loss from its saved config; pretrained backbone files are not needed (the
    checkpoint's weights replace them)."""
    from prove_lightning.config import instantiate

    if not config:
        raise TypeError(f"SegModule needs `{what}` (a module) or `{what}_config` (a _target_ dict saved with the checkpoint)")
    config = dict(config)
    if what == "net" and "pretrained" in config:
        config["pretrained"] = False
    return instantiate(config, _convert_="all")


class SegModule(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module | None = None,
        loss: nn.Module | None = None,
        *,
        optim: dict[str, Any],
        scheduler: dict[str, Any],
        lr: float,
        max_steps: int,
        num_classes: int = len(CITYSCAPES_CLASSES),
        class_names: Sequence[str] = CITYSCAPES_CLASSES,
        seed: int = 42,
        inference: dict[str, Any] | None = None,
        miou_convention: str = "union",
        test_dataset_names: Sequence[str] = (),
        batch_hooks: Sequence[Any] = (),
        val_images: int = 4,
        model_name: str = "",
        net_config: dict[str, Any] | None = None,
        loss_config: dict[str, Any] | None = None,
    ) -> None:
        """``net``/``loss``: built modules; or None with ``net_config``/``loss_config`` (``_target_`` dicts, saved in
        the checkpoint's hyperparameters) so that ``SegModule.load_from_checkpoint(path)`` rebuilds them."""
        super().__init__()
        # everything but the built objects: load_from_checkpoint(path) passes these back (net/loss from their configs)
        self.save_hyperparameters(ignore=["net", "loss", "batch_hooks"], logger=False)
        self.net = net if net is not None else _build("net", net_config)
        self.loss = loss if loss is not None else _build("loss", loss_config)
        self.optim_cfg, self.sched_cfg = dict(optim), dict(scheduler)
        self.lr, self.max_steps = lr, max_steps
        self.num_classes, self.class_names = num_classes, list(class_names)
        self.seed = seed
        self.inference = check_inference(inference)
        self.miou_convention = miou_convention
        self.test_dataset_names = list(test_dataset_names)
        self.batch_hooks = list(batch_hooks)
        #: the config's model name, stored in checkpoints: resuming or testing another model's file is refused
        self.model_name = model_name
        # how many training samples each std_* op touched (from the batches' 'augment' entries); saved in
        # checkpoints so a resumed run keeps counting, written to audit.json after training
        self.augment_counts: Counter[str] = Counter()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.val_cm: torch.Tensor | None = None
        self.test_cm: torch.Tensor | None = None
        self.val_results: dict[str, Any] = {}
        self.test_image_counts: dict[tuple[int, str], int] = {}
        #: per test set: (image ids, domains, (n, C, C) int64 confusion matrices), one entry per image, for
        #: statistics over images later (paired bootstrap); written beside the test JSON (evaluation/per_image.py)
        self.test_per_image: list[tuple[list[str], list[str], np.ndarray]] = []
        self._img_rows: list[list[tuple[str, str, torch.Tensor]]] = []
        #: how many fixed val images the TensorBoard grid shows (input / ground truth / prediction)
        self.val_images = int(val_images)
        #: set by evaluation.testing to save predictions: fn(pred (B, H, W), batch, dataloader_idx)
        self.test_prediction_hook: Callable[[torch.Tensor, dict[str, Any], int], None] | None = None
        self._counts: torch.Tensor | None = None  # joint histograms (..., domain, EXT, EXT), summed on the device
        self._n_images: torch.Tensor | None = None  # images per (..., domain)
        self._viz_pick: dict[int, int] = {}
        self._viz_rows: dict[int, np.ndarray] = {}
        self._loss_every_step = True  # until on_train_start knows whether a live progress bar shows it
        self.last_train_loss: torch.Tensor | None = None

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        return (image.float() - self.mean) / self.std

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(self.normalize(image))

    # ------------------------------------------------------------------ train
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # dropout / drop-path randomness as a function of the step: resume reproduces it exactly.
        # (Seeds the CPU and the current CUDA generator; torch.manual_seed would also queue lazy seeding of every
        # uninitialised backend, which captures a stack trace per call: milliseconds per step.)
        seed = sample_seed(self.seed, self.global_step, self.global_rank, 10_000)
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed(seed)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Our batches are flat dicts: move the tensors, leave the lists of strings (cheaper than a generic walk)."""
        if isinstance(batch, dict):
            return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_train_start(self) -> None:
        # a live progress bar shows train/loss at every step; without one, only the steps the loggers write read it
        self._loss_every_step = self._trainer is None or self._trainer.progress_bar_callback is not None

    def _log_terms_now(self) -> bool:
        """Whether Lightning writes this step's logged values to the loggers (every ``log_every_n_steps`` steps, and
        when the run is stopping): a ``self.log`` call costs ~0.5 ms on CPU (Lightning moves its result record to
        the device each call), a third of Lightning's per-step overhead, so values nobody reads are not logged."""
        trainer = self._trainer
        if trainer is None:
            return True
        every = getattr(trainer, "log_every_n_steps", 1)
        return (self.global_step + 1) % max(int(every), 1) == 0 or bool(getattr(trainer, "should_stop", False))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        for hook in self.batch_hooks:
            batch = hook(batch, self.global_step)
        self._count_augment(batch)
        outputs = self(batch["image"])
        terms = self.loss(outputs, batch["label"])
        bs = batch["image"].shape[0]
        #: this step's loss (no host sync): runs.progress.PlainProgress prints it on the steps it reports
        self.last_train_loss = terms["loss"].detach()
        if self._loss_every_step or self._log_terms_now():
            self.log("train/loss", terms["loss"], prog_bar=True, batch_size=bs)
        if self._log_terms_now():  # the single terms only when the logger writes (each self.log call costs)
            for k, v in terms.items():
                if k != "loss":
                    self.log(f"train/loss_{k}", v, batch_size=bs)
        return terms["loss"]

    def _count_augment(self, batch: dict[str, Any]) -> None:
        entries = batch.get("augment")
        if not entries:
            return
        generated = batch.get("generated")
        generated = generated.tolist() if isinstance(generated, torch.Tensor) else list(generated or [False] * len(entries))
        in_batch: Counter[str] = Counter()
        for entry, gen in zip(entries, generated):
            ops = {part.split(":", 1)[0] for part in entry.split(";") if part}
            in_batch.update(ops)
            if gen:  # the same ops on generated samples, counted apart: std_* must treat both pools alike
                self.augment_counts.update({"samples_generated": 1, **{f"{op}_on_generated": 1 for op in ops}})
        self.augment_counts["samples"] += len(entries)
        self.augment_counts.update(in_batch)
        if self._log_terms_now():
            for op, k in in_batch.items():
                self.log(f"train_augment/{op}", k / len(entries), batch_size=len(entries))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["augment_counts"] = dict(self.augment_counts)
        checkpoint["prove"] = {"model": self.model_name, "num_classes": self.num_classes}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.augment_counts = Counter(checkpoint.get("augment_counts", {}))

    # ------------------------------------------------------------------ eval helpers
    def predict(self, image: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        logits = predict_logits(
            self.net,
            self.normalize(image),
            out_size,
            mode=self.inference.get("mode", "whole"),
            crop=self.inference.get("crop"),
            stride=self.inference.get("stride"),
            num_classes=self.num_classes,
        )
        pred = logits.argmax(dim=1)
        # class indices fit a byte for <= 256 classes: counting takes its compact path and saving needs no cast
        return pred.to(torch.uint8) if self.num_classes <= 256 else pred

    def _owned(self, batch: dict[str, Any], dataloader: Any) -> list[bool]:
        """Which samples of the batch this rank counts: DistributedSampler pads the last round with repeats of the
        first samples; with shuffle off, sample i belongs to rank i % world, so repeats are dropped here."""
        n = len(batch["domain"])
        world = self.trainer.world_size if self._trainer is not None else 1
        if world == 1:
            return [True] * n
        sampler = getattr(dataloader, "sampler", None)
        if isinstance(sampler, ShardSampler):  # our eval loaders: disjoint shards, nothing repeated
            return [True] * n
        if isinstance(sampler, DistributedSampler) and not sampler.shuffle and "index" in batch:
            return [int(i) % world == self.global_rank for i in batch["index"]]
        rank_zero_warn("evaluation under DDP without ShardSampler or an unshuffled DistributedSampler: padded repeats may be counted twice")
        return [True] * n

    def _accumulate(self, counts: torch.Tensor, n_images: torch.Tensor, batch: dict[str, Any], dataloader: Any = None) -> torch.Tensor:
        """Add the batch to per-domain joint histograms on the device (no host sync); returns the predictions."""
        label = batch["label"]
        pred = self.predict(batch["image"], tuple(label.shape[-2:]))
        for i, (domain, keep) in enumerate(zip(batch["domain"], self._owned(batch, dataloader))):
            if keep:
                d = DOMAINS.index(domain)
                confusion_counts(pred[i], label[i], out=counts[d])
                n_images[d] += 1
        return pred

    def _new_counts(self, *lead: int) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (*lead, len(DOMAINS))
        return (
            torch.zeros(*shape, EXT, EXT, dtype=torch.int64, device=self.device),
            torch.zeros(*shape, dtype=torch.int64, device=self.device),
        )

    def _reduced(self, *tensors: torch.Tensor) -> list[torch.Tensor]:
        """Sum over DDP ranks (all_reduce SUM via the strategy); identity on one device."""
        if self.trainer.world_size > 1:
            return [self.trainer.strategy.reduce(t, reduce_op="sum") for t in tensors]
        return list(tensors)

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self._counts, self._n_images = self._new_counts()
        self._viz_rows = {}
        self._viz_pick = {}
        dataset = getattr(self.trainer.val_dataloaders, "dataset", None) if self._trainer is not None else None
        records = getattr(dataset, "records", None)
        if self.val_images > 0 and records:
            picked = pick_fixed_samples([r.domain for r in records], self.val_images)
            self._viz_pick = {index: slot for slot, index in enumerate(picked)}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        pred = self._accumulate(self._counts, self._n_images, batch, self.trainer.val_dataloaders)
        for i, index in enumerate(batch.get("index", [])):
            slot = self._viz_pick.get(int(index))
            if slot is not None:
                image = batch["image"][i].permute(1, 2, 0).cpu().numpy()
                self._viz_rows[slot] = prediction_row(image, batch["label"][i].cpu().numpy(), pred[i].cpu().numpy())

    def on_validation_epoch_end(self) -> None:
        counts, n_images = self._reduced(self._counts, self._n_images)
        cm = finalize_confusion(counts, self.num_classes, IGNORE_INDEX)
        self.val_cm = cm
        total = cm.sum(dim=0)
        results = {"all": metrics_from_confusion(total, self.class_names, self.miou_convention) | {"n_images": int(n_images.sum())}}
        self.log("val/mIoU", results["all"]["mIoU"], prog_bar=True, sync_dist=False)
        self.log("val/aAcc", results["all"]["aAcc"], sync_dist=False)
        for cname, m in results["all"]["per_class"].items():  # classes absent from val (NaN) are left out
            if not np.isnan(m["IoU"]):
                self.log(f"val_class/IoU_{cname}", m["IoU"], sync_dist=False)
        for d, name in enumerate(DOMAINS):
            if int(n_images[d]) > 0:
                results[name] = metrics_from_confusion(cm[d], self.class_names, self.miou_convention) | {"n_images": int(n_images[d])}
                self.log(f"val_domain/mIoU_{name}", results[name]["mIoU"], sync_dist=False)
        self.val_results = results
        self._log_prediction_grid()

    def _log_prediction_grid(self) -> None:
        if not self._viz_rows or self.trainer.sanity_checking or self.global_rank != 0:
            return
        from prove_lightning.evaluation.visualize import log_image

        grid = prediction_grid([self._viz_rows[k] for k in sorted(self._viz_rows)])
        log_image(self.loggers, "val/predictions", grid, self.global_step)

    # ------------------------------------------------------------------ test
    def on_test_epoch_start(self) -> None:
        self._counts, self._n_images = self._new_counts(max(len(self.test_dataset_names), 1))
        self.test_image_counts = {}
        self._img_rows = [[] for _ in range(max(len(self.test_dataset_names), 1))]
        self.test_per_image = []

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        loaders = self.trainer.test_dataloaders
        loader = loaders[dataloader_idx] if isinstance(loaders, (list, tuple)) else loaders
        pred = self._accumulate(self._counts[dataloader_idx], self._n_images[dataloader_idx], batch, loader)
        self._keep_per_image(pred, batch, loader, dataloader_idx)
        if self.test_prediction_hook is not None:
            self.test_prediction_hook(pred, batch, dataloader_idx)

    def _keep_per_image(self, pred: torch.Tensor, batch: dict[str, Any], loader: Any, t: int) -> None:
        """One (C, C) matrix per counted image, kept on the device until the epoch ends (C*C int64 each).

        Pixels whose label is not a class (ignore) are left out, as in the dataset-level matrix, so the
        per-image matrices of a test set sum to its matrix."""
        c = self.num_classes
        label = batch["label"]
        ids = batch.get("path") or [str(i) for i in batch.get("index", range(len(batch["domain"])))]
        for i, (domain, keep) in enumerate(zip(batch["domain"], self._owned(batch, loader))):
            if keep:
                lab, prd = label[i].reshape(-1).long(), pred[i].reshape(-1).long()
                valid = (lab >= 0) & (lab < c)
                cm = torch.bincount(lab[valid] * c + prd[valid], minlength=c * c).reshape(c, c)
                self._img_rows[t].append((str(ids[i]), str(domain), cm))

    def _gather_per_image(self) -> None:
        for rows in self._img_rows:
            local = ([r[0] for r in rows], [r[1] for r in rows], [r[2].cpu().numpy() for r in rows])
            if self.trainer.world_size > 1:  # every rank's images, gathered on every rank
                parts: list[Any] = [None] * self.trainer.world_size
                torch.distributed.all_gather_object(parts, local)
            else:
                parts = [local]
            ids = [x for p in parts for x in p[0]]
            domains = [x for p in parts for x in p[1]]
            mats = [x for p in parts for x in p[2]]
            c = self.num_classes
            self.test_per_image.append((ids, domains, np.stack(mats) if mats else np.zeros((0, c, c), np.int64)))
        self._img_rows = []

    def on_test_epoch_end(self) -> None:
        counts, n_images = self._reduced(self._counts, self._n_images)
        self.test_cm = finalize_confusion(counts, self.num_classes, IGNORE_INDEX)
        self._gather_per_image()
        self.test_image_counts = {
            (t, d): int(n_images[t, j]) for t in range(n_images.shape[0]) for j, d in enumerate(DOMAINS) if int(n_images[t, j])
        }

    # ------------------------------------------------------------------ optim
    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.net, self.optim_cfg, self.lr)
        scheduler = build_scheduler(optimizer, self.sched_cfg, self.max_steps, self.lr)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1, "name": "lr"}}
