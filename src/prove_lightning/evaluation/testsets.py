"""Test sets: which dataset, split, pipeline and prediction naming a checkpoint is tested on.

A test set is any option of the ``dataset`` config group (conf/dataset/<name>.yaml), instantiated from
its ``source`` and decoded with that source's ``label_mapping``: an S1 model of dataset A is tested on
dataset B's test split the same way as on its own. Keys read from a dataset config (all optional but
``source``): ``test_split`` (default ``test``; Cityscapes tests on ``val``), ``test_pipeline``,
``eval_batch_size``, ``prediction_format``, ``prediction_name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from prove_lightning.config import CONF_DIR, instantiate
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


def test_set_from_config(ds: DictConfig | Mapping[str, Any]) -> TestSet:
    """A TestSet from one resolved dataset config node."""
    ds = ds if isinstance(ds, DictConfig) else OmegaConf.create(dict(ds))
    if "source" not in ds:
        raise ConfigError(f"dataset config '{ds.get('name', '?')}' has no 'source' node; it cannot be a test set")
    source = instantiate(ds.source)
    name = str(ds.get("name") or source.name)
    pipeline = OmegaConf.to_container(ds.test_pipeline, resolve=True) if ds.get("test_pipeline") is not None else None
    return TestSet(
        name=name,
        source=source,
        split=str(ds.get("test_split") or "test"),
        pipeline=pipeline,
        batch_size=int(ds.get("eval_batch_size") or 1),
        prediction_format=str(ds.get("prediction_format") or DEFAULT_PREDICTION_FORMAT),
        prediction_name=str(ds.get("prediction_name") or DEFAULT_PREDICTION_NAME),
    )


def dataset_options() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


def compose_dataset(option: str, paths: DictConfig | Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> DictConfig:
    """The dataset group option ``option`` (with its defaults list) resolved against ``paths``, plus ``overrides``."""
    if option not in dataset_options():
        raise ConfigError(f"test dataset '{option}' is not an option of conf/dataset/; known: {dataset_options()}")
    node, default_paths = _compose_group("dataset", option)
    # the given paths win; roots they lack (e.g. a run saved before a root existed) keep today's defaults
    given = OmegaConf.create(OmegaConf.to_container(OmegaConf.create(dict(paths)), resolve=True))
    merged_paths = OmegaConf.merge(default_paths, given)
    root = OmegaConf.create({"paths": merged_paths, "dataset": node})
    if overrides:
        root.dataset = OmegaConf.merge(root.dataset, OmegaConf.create(dict(overrides)))
    ds = OmegaConf.create(OmegaConf.to_container(root, resolve=True)["dataset"])
    return ds


def _compose_group(group: str, option: str) -> tuple[DictConfig, DictConfig]:
    """Compose one group option alone (Hydra handles its defaults list), inside or outside a running Hydra app."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = [f"+{group}={option}"]
    if GlobalHydra.instance().is_initialized():
        cfg = compose(config_name="eval", overrides=overrides)
    else:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="eval", overrides=overrides)
    node = cfg[group]
    OmegaConf.set_struct(node, False)
    paths = cfg.paths
    OmegaConf.set_struct(paths, False)
    return node, paths


def resolve_test_sets(
    run_cfg: DictConfig,
    names: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    paths: DictConfig | Mapping[str, Any] | None = None,
) -> list[TestSet]:
    """Test sets for a run: ``names`` if given, else the stage's ``test_datasets``, else the run's own dataset.

    The run's own dataset is tested exactly as configured in its config.yaml (same root, size, splits);
    any other name is composed from conf/dataset/<name>.yaml with ``paths`` (default: the run's paths).
    ``overrides[name]`` is merged into that dataset's config (e.g. ``{"source": {"dataset_dir": "BDD10k"}}``).
    """
    overrides = dict(overrides or {})
    names = list(names or OmegaConf.select(run_cfg, "stage.test_datasets", default=None) or [run_cfg.dataset.name])
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ConfigError(f"test_dataset_overrides names {unknown}, which are not among the test datasets {names}")
    if len(set(names)) != len(names):
        raise ConfigError(f"test_datasets lists a dataset twice: {names}")
    out: list[TestSet] = []
    for name in names:
        extra = overrides.get(name)
        if name == run_cfg.dataset.name:
            ds = run_cfg.dataset if not extra else OmegaConf.merge(run_cfg.dataset, OmegaConf.create(dict(extra)))
        else:
            ds = compose_dataset(name, paths if paths is not None else run_cfg.paths, extra)
        out.append(test_set_from_config(ds))
    seen = [t.name for t in out]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"two test datasets share the name {seen}; give one another name via test_dataset_overrides.<option>.name")
    return out
