"""Test sets: which dataset, split, pipeline and prediction naming a checkpoint is tested on.

A test set is any resolved dataset config (an option of conf/dataset/, composed by tasks/testsets.py),
instantiated from its ``source`` and decoded with that source's ``label_mapping``: an S1 model of dataset A is tested on
dataset B's test split the same way as on its own. Keys read from a dataset config (all optional but
``source``): ``test_split`` (default ``test``; Cityscapes tests on ``val``), ``test_pipeline``,
``eval_batch_size``, ``prediction_format``, ``prediction_name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from torch.utils.data import DataLoader

from prove_lightning.config import instantiate
from prove_lightning.data.dataset import SegDataset
from prove_lightning.data.labels import get_label_mapping
from prove_lightning.data.records import SampleRecord
from prove_lightning.data.sources.base import DatasetSource
from prove_lightning.data.transforms import build_pipeline
from prove_lightning.errors import ConfigError

DEFAULT_PREDICTION_FORMAT = "trainids"
DEFAULT_PREDICTION_NAME = "{domain}/{stem}.png"


@dataclass
class TestSet:
    __test__ = False  # not a pytest class

    name: str
    source: DatasetSource
    split: str = "test"
    pipeline: Mapping[str, Any] | None = None
    batch_size: int = 1
    prediction_format: str = DEFAULT_PREDICTION_FORMAT
    prediction_name: str = DEFAULT_PREDICTION_NAME
    _records: list[SampleRecord] | None = field(default=None, repr=False)

    def records(self) -> list[SampleRecord]:
        if self._records is None:
            self._records = self.source.records(self.split)
        return self._records

    def dataloader(self, num_workers: int = 0) -> DataLoader:
        mappings = {self.source.name: get_label_mapping(self.source.label_mapping)}
        ds = SegDataset(self.records(), mappings, build_pipeline(dict(self.pipeline or {}), train=False))
        return DataLoader(ds, batch_size=self.batch_size, shuffle=False, num_workers=num_workers, persistent_workers=False)

    def describe(self) -> dict[str, Any]:
        from collections import Counter

        return {
            "name": self.name,
            "split": self.split,
            "label_mapping": self.source.label_mapping,
            "images": dict(Counter(r.domain for r in self.records())),
            "pipeline": build_pipeline(dict(self.pipeline or {}), train=False).describe(),
            "prediction_format": self.prediction_format,
            "prediction_name": self.prediction_name,
        }


def test_set_from_config(ds: Mapping[str, Any], batch_size: int | None = None) -> TestSet:
    """A TestSet from one resolved dataset config (plain mapping)."""
    if "source" not in ds:
        raise ConfigError(f"dataset config '{ds.get('name', '?')}' has no 'source' node; it cannot be a test set")
    source = instantiate(ds["source"])
    name = str(ds.get("name") or source.name)
    pipeline = ds.get("test_pipeline")
    return TestSet(
        name=name,
        source=source,
        split=str(ds.get("test_split") or "test"),
        pipeline=dict(pipeline) if pipeline is not None else None,
        batch_size=int(batch_size or ds.get("eval_batch_size") or 1),
        prediction_format=str(ds.get("prediction_format") or DEFAULT_PREDICTION_FORMAT),
        prediction_name=str(ds.get("prediction_name") or DEFAULT_PREDICTION_NAME),
    )
