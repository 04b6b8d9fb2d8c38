"""Which test sets a job tests on: the stage's one list (RunSpec.test_sets) or names given to ``prove eval``.

A name other than the run's own test sets is an option of conf/dataset/, composed here with Hydra (its
defaults list included) against the given ``paths``; evaluation/testsets.py turns each resolved dataset
config into a TestSet.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from prove_lightning.config import CONF_DIR
from prove_lightning.errors import ConfigError
from prove_lightning.evaluation.testsets import TestSet, test_set_from_config
from prove_lightning.runs.spec import RunSpec


def dataset_options() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


def compose_dataset(option: str, paths: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
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
    return OmegaConf.to_container(root, resolve=True)["dataset"]


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


def _merged(ds: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    if not extra:
        return dict(ds)
    return OmegaConf.to_container(OmegaConf.merge(OmegaConf.create(dict(ds)), OmegaConf.create(dict(extra))), resolve=True)


def resolve_test_sets(
    spec: RunSpec,
    names: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    paths: Mapping[str, Any] | None = None,
) -> list[TestSet]:
    """Test sets for a run: ``names`` if given, else the stage's test sets (the list training tested on).

    A name among the run's own test sets (its dataset, the stage's test_sets) is tested exactly as recorded in
    the run's config.yaml (same root, size, splits); any other name is composed from conf/dataset/<name>.yaml
    with ``paths`` (default: the run's paths). ``overrides[name]`` is merged into that dataset's config
    (e.g. ``{"source": {"dataset_dir": "BDD10k"}}``).
    """
    overrides = dict(overrides or {})
    own = {t.name: t.dataset for t in spec.test_sets}
    own.setdefault(spec.dataset, spec.config.get("dataset", {}))
    names = list(names or spec.test_set_names)
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ConfigError(f"test_dataset_overrides names {unknown}, which are not among the test datasets {names}")
    if len(set(names)) != len(names):
        raise ConfigError(f"test_datasets lists a dataset twice: {names}")
    out: list[TestSet] = []
    for name in names:
        extra = overrides.get(name)
        if name in own:
            ds = _merged(own[name], extra)
        else:
            ds = compose_dataset(name, paths if paths is not None else spec.config["paths"], extra)
        out.append(test_set_from_config(ds))
    seen = [t.name for t in out]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"two test datasets share the name {seen}; give one another name via test_dataset_overrides.<option>.name")
    return out
