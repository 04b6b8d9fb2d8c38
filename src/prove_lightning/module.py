"""SegModule: one training step, per-domain confusion matrices in validation and test, optimizer + schedule."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Sequence

import torch
import pytorch_lightning as pl
from torch import nn

from prove_lightning.data.domains import DOMAINS
from prove_lightning.data.labels import CITYSCAPES_CLASSES, IGNORE_INDEX
from prove_lightning.data.sampler import sample_seed
from prove_lightning.evaluation.inference import predict_logits
from prove_lightning.evaluation.metrics import confusion_matrix, metrics_from_confusion
from prove_lightning.optim import build_optimizer, build_scheduler

# our transfer_batch_to_device is meant to be used with our datamodule: Lightning's notice about it is noise
warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device` in `LightningModule`.*")

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


class SegModule(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
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
    ) -> None:
        super().__init__()
        self.net = net
        self.loss = loss
        self.optim_cfg, self.sched_cfg = dict(optim), dict(scheduler)
        self.lr, self.max_steps = lr, max_steps
        self.num_classes, self.class_names = num_classes, list(class_names)
        self.seed = seed
        self.inference = dict(inference or {"mode": "whole"})
        self.miou_convention = miou_convention
        self.test_dataset_names = list(test_dataset_names)
        self.batch_hooks = list(batch_hooks)
        # how many training samples each std_* op touched (from the batches' 'augment' entries); saved in
        # checkpoints so a resumed run keeps counting, written to audit.json after training
        self.augment_counts: Counter[str] = Counter()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.val_cm: torch.Tensor | None = None
        self.test_cm: torch.Tensor | None = None
        self.val_results: dict[str, Any] = {}
        self.test_image_counts: dict[tuple[int, str], int] = {}

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

    def _log_terms_now(self) -> bool:
        trainer = self._trainer
        every = getattr(trainer, "log_every_n_steps", 1) if trainer is not None else 1
        return (self.global_step + 1) % max(int(every), 1) == 0

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        for hook in self.batch_hooks:
            batch = hook(batch, self.global_step)
        self._count_augment(batch)
        outputs = self(batch["image"])
        terms = self.loss(outputs, batch["label"])
        bs = batch["image"].shape[0]
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
        return logits.argmax(dim=1)

    def _accumulate(self, cm: torch.Tensor, batch: dict[str, Any]) -> None:
        label = batch["label"]
        pred = self.predict(batch["image"], tuple(label.shape[-2:]))
        for i, domain in enumerate(batch["domain"]):
            d = DOMAINS.index(domain)
            cm[d] += confusion_matrix(pred[i], label[i], self.num_classes, IGNORE_INDEX)

    def _new_cm(self, *lead: int) -> torch.Tensor:
        return torch.zeros(*lead, len(DOMAINS), self.num_classes, self.num_classes, dtype=torch.int64, device=self.device)

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self.val_cm = self._new_cm()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._accumulate(self.val_cm, batch)

    def on_validation_epoch_end(self) -> None:
        cm = self.trainer.strategy.reduce(self.val_cm, reduce_op="sum") if self.trainer.world_size > 1 else self.val_cm
        total = cm.sum(dim=0)
        results = {"all": metrics_from_confusion(total, self.class_names, self.miou_convention)}
        self.log("val/mIoU", results["all"]["mIoU"], prog_bar=True, sync_dist=False)
        self.log("val/aAcc", results["all"]["aAcc"], sync_dist=False)
        for d, name in enumerate(DOMAINS):
            if cm[d].sum() > 0:
                results[name] = metrics_from_confusion(cm[d], self.class_names, self.miou_convention)
                self.log(f"val_domain/mIoU_{name}", results[name]["mIoU"], sync_dist=False)
        self.val_results = results

    # ------------------------------------------------------------------ test
    def on_test_epoch_start(self) -> None:
        self.test_cm = self._new_cm(max(len(self.test_dataset_names), 1))
        self.test_image_counts = {}

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._accumulate(self.test_cm[dataloader_idx], batch)
        for domain in batch["domain"]:
            key = (dataloader_idx, domain)
            self.test_image_counts[key] = self.test_image_counts.get(key, 0) + 1

    def on_test_epoch_end(self) -> None:
        if self.trainer.world_size > 1:
            self.test_cm = self.trainer.strategy.reduce(self.test_cm, reduce_op="sum")

    # ------------------------------------------------------------------ optim
    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.net, self.optim_cfg, self.lr)
        scheduler = build_scheduler(optimizer, self.sched_cfg, self.max_steps, self.lr)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}
