"""Build the one :class:`RunSpec` of a job from its composed config (the only place that reads a run's identity
from a DictConfig; everything after it reads the RunSpec).

Every answer is read from the composed config (conf/stage/*.yaml, conf/dataset/*.yaml, ...); nothing about a
study is written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from prove_lightning.errors import ConfigError
from prove_lightning.runs.spec import GeneratedSetting, RunDir, RunSpec, SourceRun, TestSetConfig

#: keys of the composed config that say where and how a job runs, not what it trains
NOT_CONFIG = ("hydra",)


def _sel(cfg: DictConfig, key: str, default: Any = None) -> Any:
    return OmegaConf.select(cfg, key, default=default)


def _plain(value: Any) -> Any:
    """A config value as plain data (a list node becomes a tuple, so the frozen RunSpec stays hashable)."""
    value = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return tuple(value) if isinstance(value, list) else value


def test_set_name(node: DictConfig | dict) -> str:
    """The name a test set's rows are stored under: the source's own name where given, else the dataset's."""
    node = node if isinstance(node, DictConfig) else OmegaConf.create(node)
    return str(OmegaConf.select(node, "source.name", default=None) or node.name)


def stage_test_sets(cfg: DictConfig) -> list[DictConfig]:
    """The dataset configs whose test splits this run is tested on, in order, without duplicate names.

    The one list of a stage: ``stage.test_train_dataset`` (the run's own dataset) then ``stage.test_sets``.
    """
    stage = cfg.stage
    nodes: list[DictConfig] = []
    if _sel(stage, "test_train_dataset", True):
        nodes.append(cfg.dataset)
    for key, node in (_sel(stage, "test_sets") or {}).items():
        if node is None:
            continue
        if "source" not in node or "name" not in node:
            raise ConfigError(
                f"stage.test_sets.{key} is not a dataset config (needs name and source); add it with a defaults "
                f"entry '- /dataset@stage.test_sets.{key}: <dataset>' in conf/stage/{stage.name}.yaml"
            )
        nodes.append(node)
    seen: set[str] = set()
    unique = []
    for n in nodes:
        if test_set_name(n) not in seen:
            seen.add(test_set_name(n))
            unique.append(n)
    if not unique:
        raise ConfigError(f"stage '{stage.name}' tests on nothing: set stage.test_train_dataset=true or add stage.test_sets")
    return unique


def dataset_key(cfg: DictConfig) -> str:
    """The run's one dataset key; dataset.name and dataset.source.name must agree (a layout is not a dataset)."""
    name = str(cfg.dataset.name)
    src = _sel(cfg, "dataset.source.name")
    if src is not None and str(src) != name:
        raise ConfigError(
            f"dataset.name={name!r} but dataset.source.name={src!r}: run paths, manifests and result rows use one "
            f"dataset key; set both to the dataset (e.g. bdd10k) and describe a layout with dataset.layout"
        )
    return name


def source_run(cfg: DictConfig, run_id: str, run_suffix: str) -> SourceRun | None:
    """The run named by stage.extend_from / stage.evaluate_from: same relative path under the source stage."""
    extend, evaluate = _sel(cfg, "stage.extend_from"), _sel(cfg, "stage.evaluate_from")
    if extend and evaluate:
        raise ConfigError(f"stage '{cfg.stage.name}' sets both extend_from and evaluate_from; keep one")
    src_stage, mode = (extend, "extend") if extend else (evaluate, "evaluate")
    if not src_stage:
        return None
    _, rest = run_id.split("/", 1)
    if run_suffix and rest.endswith(run_suffix):
        rest = rest[: -len(run_suffix)]
    return SourceRun(stage=str(src_stage), mode=mode, run_dir=run_root(cfg) / str(src_stage) / rest)


def run_root(cfg: DictConfig) -> Path:
    """Where the run directories and results.csv of this job lie: paths.output_root, or its debug/<mode>/ folder."""
    return Path(str(_sel(cfg, "run_root") or cfg.paths.output_root))


def generated_setting(cfg: DictConfig, dataset: str) -> GeneratedSetting | None:
    """Where this run's generated images come from, or None when it uses none (baseline, std_*, ratio 1.0).

    Contract with the strategy configs (conf/shared/strategy_gen.yaml): a strategy that mixes generated images
    sets ``strategy.manifest`` (the manifest CSV; null for a pool that needs none, as the noise ablation's);
    ``strategy.ratio`` 1.0 means real only; ``strategy.domains`` (optional) keeps only generated rows of those
    domains; ``strategy.generator`` with ``dataset.generate_missing`` writes a missing manifest on first use.
    """
    manifest = _sel(cfg, "strategy.manifest")
    if not manifest:
        return None
    ratio = _sel(cfg, "strategy.ratio")
    if ratio is not None and float(ratio) >= 1.0:
        return None
    domains = _sel(cfg, "strategy.domains")
    if domains is not None:
        domains = (str(domains),) if isinstance(domains, str) else tuple(str(d) for d in domains)
    generates = bool(_sel(cfg, "strategy.generator")) and bool(_sel(cfg, "dataset.generate_missing", False))
    # the same aliases the training job loads the manifest with (data/mixing.py): the stratified folder name
    folder = _sel(cfg, "dataset.source.dataset_dir")
    aliases = (str(folder),) if folder else ()
    return GeneratedSetting(manifest=str(manifest), dataset=dataset, aliases=aliases, domains=domains, generates=generates)


def validate(cfg: DictConfig) -> None:
    """Every config value a run reads, checked before the RunSpec is built (validation.py)."""
    from prove_lightning.validation import validate_train_config

    validate_train_config(cfg)


def build_run_spec(cfg: DictConfig, run_dir: str | Path | None = None) -> RunSpec:
    """The RunSpec of a composed train config (or of a run's saved config.yaml; ``run_dir`` = where it lies now)."""
    validate(cfg)
    dataset = dataset_key(cfg)
    run_id = str(cfg.run_relpath)
    suffix = str(_sel(cfg, "stage.run_suffix", "") or "")
    where = Path(run_dir if run_dir is not None else cfg.run_dir).resolve()
    tests = [TestSetConfig(test_set_name(n), OmegaConf.to_container(n, resolve=True)) for n in stage_test_sets(cfg)]
    config = OmegaConf.to_container(cfg, resolve=True)
    for key in NOT_CONFIG:
        config.pop(key, None)
    config["run_dir"] = str(where)
    # the stage's test sets are the datamodule's test sources (indexed, so a missing test set fails before fit)
    config.setdefault("data", {})["test_sources"] = [t.dataset["source"] for t in tests]
    ratio = _sel(cfg, "strategy.ratio")
    pre = _sel(cfg, "preflight") or {}
    source = source_run(cfg, run_id, suffix)
    extend_lr = str(_sel(cfg, "stage.extend_lr", "recompute"))
    extension = None
    if source is not None and source.mode == "extend" and source.max_steps is not None:
        from prove_lightning.runs.extend import plan_extension

        # the schedule over the new horizon is part of the run's config (config.yaml records it)
        extension, scheduler = plan_extension(extend_lr, str(cfg.stage.name), int(cfg.trainer.max_steps), source)
        config["model"].setdefault("scheduler", {}).update(scheduler)
        config["module"]["scheduler"] = dict(config["model"]["scheduler"])
    return RunSpec(
        stage=str(cfg.stage.name),
        strategy=str(cfg.strategy.name),
        augment=str(cfg.augment.name),
        dataset=dataset,
        model=str(cfg.model.name),
        ratio=None if ratio is None else float(ratio),
        loss=str(cfg.loss.name),
        seed=int(cfg.seed),
        run_suffix=suffix,
        max_steps=int(cfg.trainer.max_steps),
        run_id=run_id,
        output_root=run_root(cfg),
        run_dir=RunDir(where),
        test_sets=tuple(tests),
        source=source,
        generated=generated_setting(cfg, dataset),
        extend_lr=extend_lr,
        extension=extension,
        test_checkpoints=_plain(_sel(cfg, "stage.test_checkpoints", "final")),
        checkpoint_interval=int(_sel(cfg, "stage.checkpoint_interval", 0) or 0),
        ckpt_path=str(cfg.ckpt_path) if _sel(cfg, "ckpt_path") else None,
        test_after_training=bool(_sel(cfg, "test_after_training", True)),
        allow_config_change=bool(_sel(cfg, "allow_config_change", False)),
        preflight=OmegaConf.to_container(pre, resolve=True) if isinstance(pre, DictConfig) else dict(pre),
        config=config,
    )
