"""SegDataModule: a step-indexed training loader, a held-out val split carved from train, per-domain test sets."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from prove_lightning.data.dataset import SegDataset
from prove_lightning.data.domains import resolve_domains
from prove_lightning.data.labels import get_label_mapping
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sampler import StepBatchSampler
from prove_lightning.data.sources.base import DatasetSource
from prove_lightning.data.transforms import build_pipeline
from prove_lightning.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def carve_val(records: Sequence[SampleRecord], fraction: float, seed: int, max_per_domain: int | None = None) -> tuple[list[SampleRecord], list[SampleRecord]]:
    """Split train records into (train, val), stratified by domain and seeded; every domain with >= 2 images gives >= 1."""
    if not 0 <= fraction < 1:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {fraction}")
    by_domain: dict[str, list[SampleRecord]] = {}
    for r in records:
        by_domain.setdefault(r.domain, []).append(r)
    train, val = [], []
    for domain in sorted(by_domain):
        recs = sorted(by_domain[domain], key=lambda r: str(r.image))
        order = np.random.default_rng([seed, len(recs), sum(map(ord, domain))]).permutation(len(recs))
        k = int(round(fraction * len(recs)))
        if fraction > 0 and len(recs) >= 2:
            k = max(k, 1)
        if max_per_domain is not None:
            k = min(k, max_per_domain)
        val_idx = set(order[:k].tolist())
        for i, r in enumerate(recs):
            (val if i in val_idx else train).append(r)
    return train, [SampleRecord(**{**r.__dict__, "split": "val"}) for r in val]


def _ignore_sigterm(worker_id: int) -> None:
    """Loader workers ignore SIGTERM: a scheduler signals the whole job, and the main process must be the one
    that stops (after saving last.ckpt); workers end with it."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class SegDataModule(pl.LightningDataModule):
    def __init__(
        self,
        source: DatasetSource,
        train_domains: str | list[str] | None = "all",
        val_domains: str | list[str] | None = "all",
        batch_size: int = 8,
        eval_batch_size: int = 1,
        num_workers: int = 2,
        seed: int = 42,
        max_steps: int = 1000,
        val_fraction: float = 0.1,
        val_max_per_domain: int | None = None,
        train_pipeline: dict[str, Any] | None = None,
        test_pipeline: dict[str, Any] | None = None,
        test_sources: Sequence[DatasetSource] = (),
    ) -> None:
        super().__init__()
        if batch_size <= 0:
            raise ConfigError(f"data.batch_size must be > 0, got {batch_size}")
        if max_steps <= 0:
            raise ConfigError(f"trainer.max_steps must be > 0, got {max_steps}")
        self.source = source
        self.train_domains = resolve_domains(train_domains)
        self.val_domains = resolve_domains(val_domains)
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.seed, self.max_steps = seed, max_steps
        self.val_fraction, self.val_max_per_domain = val_fraction, val_max_per_domain
        self.train_pipeline = build_pipeline(train_pipeline, train=True)
        self.test_pipeline = build_pipeline(test_pipeline, train=False)
        self.test_sources = list(test_sources) or [source]
        self._indexed = False

    # ------------------------------------------------------------------ indexing
    def index(self) -> None:
        if self._indexed:
            return
        all_train = self.source.records("train")
        own_val = self.source.records("val") if self.source.has_val_split else []
        if own_val:
            rest = all_train
        else:
            rest, own_val = carve_val(all_train, self.val_fraction, self.seed, self.val_max_per_domain)
        self.train_records = [r for r in rest if r.domain in self.train_domains]
        if not self.train_records:
            present = sorted({r.domain for r in rest})
            raise DataError(
                f"dataset '{self.source.name}' has no training images in domains {list(self.train_domains)} "
                f"(present: {present}); check stage.train_domains"
            )
        self.val_records = [r for r in own_val if r.domain in self.val_domains]
        self.test_records = {src.name: src.records("test") for src in self.test_sources}
        mappings = {src.name: get_label_mapping(src.label_mapping) for src in [self.source, *self.test_sources]}
        self.label_mappings = mappings
        self._indexed = True

    def setup(self, stage: str | None = None) -> None:
        self.index()

    # ------------------------------------------------------------------ loaders
    def _loader(self, ds: SegDataset, **kw: Any) -> DataLoader:
        return DataLoader(
            ds,
            num_workers=self.num_workers,
            persistent_workers=False,
            pin_memory=False,
            worker_init_fn=_ignore_sigterm if self.num_workers > 0 else None,
            **kw,
        )

    def train_dataloader(self) -> DataLoader:
        self.index()
        trainer = self.trainer
        start = trainer.global_step if trainer is not None else 0
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        sampler = StepBatchSampler(len(self.train_records), self.batch_size, self.max_steps, self.seed, start, rank, world)
        ds = SegDataset(self.train_records, self.label_mappings, self.train_pipeline)
        return self._loader(ds, batch_sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        self.index()
        ds = SegDataset(self.val_records, self.label_mappings, self.test_pipeline)
        return self._loader(ds, batch_size=self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> list[DataLoader]:
        self.index()
        return [
            self._loader(SegDataset(recs, self.label_mappings, self.test_pipeline), batch_size=self.eval_batch_size, shuffle=False)
            for recs in self.test_records.values()
        ]

    @property
    def test_dataset_names(self) -> list[str]:
        return [s.name for s in self.test_sources]

    # ------------------------------------------------------------------ audit
    def describe(self) -> dict[str, Any]:
        """What this datamodule feeds the model: counts per split and domain, and the resolved pipelines."""
        self.index()
        return {
            "dataset": self.source.name,
            "train_domains": list(self.train_domains),
            "counts": {
                "train": dict(Counter(r.domain for r in self.train_records)),
                "val": dict(Counter(r.domain for r in self.val_records)),
                **{f"test/{k}": dict(Counter(r.domain for r in v)) for k, v in self.test_records.items()},
            },
            "pipelines": {"train_real": self.train_pipeline.describe(), "test": self.test_pipeline.describe()},
            "batch_size": self.batch_size,
            "seed": self.seed,
        }
