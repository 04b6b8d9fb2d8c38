"""SegDataModule: a step-indexed training loader (real, or real + generated mixed per batch), a held-out
val split carved from train, per-domain test sets."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Callable, Sequence

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from prove_lightning.data.augment import describe_hooks
from prove_lightning.data.dataset import SegDataset
from prove_lightning.data.domains import resolve_domains
from prove_lightning.data.labels import get_label_mapping
from prove_lightning.data.manifest import abspath
from prove_lightning.data.mixing import Mixing, pool_per_domain
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sampler import MixedBatchSampler, StepBatchSampler
from prove_lightning.data.shard import ShardSampler
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
        num_workers: int = 1,
        seed: int = 42,
        max_steps: int = 1000,
        val_fraction: float = 0.1,
        val_max_per_domain: int | None = None,
        train_pipeline: dict[str, Any] | None = None,
        test_pipeline: dict[str, Any] | None = None,
        test_sources: Sequence[DatasetSource] = (),
        sample_hooks: Sequence[Callable[[dict[str, Any], np.random.Generator], dict[str, Any]]] = (),
        mixing: dict[str, Any] | None = None,
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
        # std_* per-sample ops: every training SegDataset (real or generated pool) must get these
        self.sample_hooks = list(sample_hooks or [])
        # real/generated mixing per batch (data/mixing.py); inactive (real only) when the ratio is 1
        self.mixing = Mixing(batch_size=batch_size, max_steps=max_steps, **dict(mixing or {}))
        self.generated_records: list[SampleRecord] = []
        self._indexed = self._pooled = False

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
        # originals a generated row may not come from, with the reason its row is filtered
        self._excluded = {abspath(r.image): "original held out for validation" for r in own_val}
        self._excluded.update({abspath(r.image): "original's domain is not in stage.train_domains" for r in rest if r.domain not in self.train_domains})
        self.test_records = {src.name: src.records("test") for src in self.test_sources}
        # model selection never sees a test image (the old pipeline validated on its test split)
        leaked = {r.image for r in [*self.val_records, *self.train_records]} & {r.image for recs in self.test_records.values() for r in recs}
        if leaked:
            raise DataError(
                f"dataset '{self.source.name}': {len(leaked)} test images are also in train/val (e.g. {sorted(leaked)[0]}); "
                f"fix dataset.source.splits so the test split is separate"
            )
        mappings = {src.name: get_label_mapping(src.label_mapping) for src in [self.source, *self.test_sources]}
        self.label_mappings = mappings
        self._indexed = True

    def index_generated(self) -> list[SampleRecord]:
        """The generated pool (manifest rows, or the noise pool); built on first use so testing never reads a manifest."""
        self.index()
        if not self._pooled:
            self.generated_records = self.mixing.generated_pool(self.source, self.train_records, self._excluded, self.seed)
            self._pooled = True
        return self.generated_records

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
        self.index_generated()
        trainer = self.trainer
        start = trainer.global_step if trainer is not None else 0
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        if not self.mixing.active:
            sampler = StepBatchSampler(len(self.train_records), self.batch_size, self.max_steps, self.seed, start, rank, world)
        else:
            sampler = MixedBatchSampler(
                len(self.train_records), len(self.generated_records), self.batch_size, self.max_steps, self.seed, self.mixing.schedule, start, rank, world
            )
        self.train_sampler = sampler
        return self._loader(self.train_dataset(), batch_sampler=sampler)

    def expected_real(self, step: int) -> int | None:
        """Real samples this rank's batch of ``step`` should hold (the ratio applies to the global batch)."""
        sampler = getattr(self, "train_sampler", None)
        if isinstance(sampler, MixedBatchSampler):
            return sampler.counts_at(step)[0]
        return self.batch_size if sampler is not None else self.mixing.expected_real(step)

    def train_dataset(self) -> SegDataset:
        """Real records (indices 0..R-1) then generated ones (R..): one dataset, one pipeline, every sample hook
        (noise replacement of generated slots first, then the std_* ops on real and generated alike)."""
        self.index_generated()
        return SegDataset([*self.train_records, *self.generated_records], self.label_mappings, self.train_pipeline, [*self.mixing.sample_hooks(), *self.sample_hooks])

    def _eval_loader(self, records: Sequence[SampleRecord]) -> DataLoader:
        trainer = self.trainer
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        ds = SegDataset(records, self.label_mappings, self.test_pipeline)
        return self._loader(ds, batch_size=self.eval_batch_size, sampler=ShardSampler(len(ds), rank, world))

    def val_dataloader(self) -> DataLoader:
        self.index()
        return self._eval_loader(self.val_records)

    def test_dataloader(self) -> list[DataLoader]:
        self.index()
        return [self._eval_loader(recs) for recs in self.test_records.values()]

    @property
    def test_dataset_names(self) -> list[str]:
        return [s.name for s in self.test_sources]

    # ------------------------------------------------------------------ audit
    def describe(self) -> dict[str, Any]:
        """What this datamodule feeds the model: counts per split and domain, the resolved pipelines, the mixing."""
        self.index_generated()
        train_ds = self.train_dataset()
        pipelines = {"train_real": ["Load(image, label)", *train_ds.describe(generated=False)]}
        if self.mixing.active:
            pipelines["train_generated"] = [self.mixing.load_step(), *train_ds.describe(generated=True)]
        return {
            "dataset": self.source.name,
            "train_domains": list(self.train_domains),
            "counts": {
                "train": dict(Counter(r.domain for r in self.train_records)),
                "val": dict(Counter(r.domain for r in self.val_records)),
                **{f"test/{k}": dict(Counter(r.domain for r in v)) for k, v in self.test_records.items()},
            },
            "pipelines": {**pipelines, "test": self.test_pipeline.describe()},
            # what the adapter did: layout, label table, domain sources, images left out by policy
            "sources": {s.name: s.describe() for s in dict.fromkeys([self.source, *self.test_sources])},
            "sample_augment": describe_hooks(self.sample_hooks),
            "mixing": self.mixing.describe(len(self.generated_records), pool_per_domain(self.generated_records)),
            "batch_size": self.batch_size,
            "seed": self.seed,
        }
