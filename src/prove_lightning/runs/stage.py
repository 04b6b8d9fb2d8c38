"""What a stage says about one run: its test sets, its final checkpoint, the run it starts from.

Every answer is read from the composed config (conf/stage/*.yaml); nothing about a study is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from prove_lightning.errors import ConfigError


def stage_test_sets(cfg: DictConfig) -> list[DictConfig]:
    """The dataset configs whose test splits this run is tested on, in order, without duplicate names."""
    stage = cfg.stage
    nodes: list[DictConfig] = []
    if OmegaConf.select(stage, "test_train_dataset", default=True):
        nodes.append(cfg.dataset)
    for key, node in (OmegaConf.select(stage, "test_sets", default=None) or {}).items():
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
        if _name(n) not in seen:
            seen.add(_name(n))
            unique.append(n)
    if not unique:
        raise ConfigError(f"stage '{stage.name}' tests on nothing: set stage.test_train_dataset=true or add stage.test_sets")
    return unique


def _name(node: DictConfig) -> str:
    """The name results are stored under: the source's own name where the config gives one, else the dataset's."""
    return str(OmegaConf.select(node, "source.name", default=None) or node.name)


def stage_test_set_names(cfg: DictConfig) -> list[str]:
    return [_name(n) for n in stage_test_sets(cfg)]


def apply_test_sets(cfg: DictConfig) -> None:
    """Make the stage's test sets the datamodule's test sources (recorded in config.yaml, so eval sees them too)."""
    sources = [OmegaConf.to_container(n.source, resolve=True) for n in stage_test_sets(cfg)]
    OmegaConf.update(cfg, "data.test_sources", sources, force_add=True)


def final_step(cfg: DictConfig) -> int:
    return int(cfg.trainer.max_steps)


def final_checkpoint(run_dir: str | Path, cfg: DictConfig) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{final_step(cfg)}.ckpt"


@dataclass(frozen=True)
class SourceRun:
    """A finished run of another stage that this run continues (extend_from) or evaluates (evaluate_from)."""

    stage: str
    mode: str  # 'extend' or 'evaluate'
    run_dir: Path
    max_steps: int | None  # from the source's recorded config.yaml; None when the source has not started

    @property
    def final_ckpt(self) -> Path | None:
        return None if self.max_steps is None else self.run_dir / "checkpoints" / f"step_{self.max_steps}.ckpt"

    @property
    def finished(self) -> bool:
        ck = self.final_ckpt
        return ck is not None and ck.is_file()

    def describe(self) -> str:
        if self.max_steps is None:
            return f"{self.run_dir} has no config.yaml (run stage={self.stage} for this strategy/dataset/model first)"
        return f"{self.final_ckpt} {'exists' if self.finished else 'does not exist yet'}"


def source_run(cfg: DictConfig) -> SourceRun | None:
    """The run named by stage.extend_from / stage.evaluate_from: same relative path under the source stage."""
    extend = OmegaConf.select(cfg, "stage.extend_from", default=None)
    evaluate = OmegaConf.select(cfg, "stage.evaluate_from", default=None)
    if extend and evaluate:
        raise ConfigError(f"stage '{cfg.stage.name}' sets both extend_from and evaluate_from; keep one")
    src_stage, mode = (extend, "extend") if extend else (evaluate, "evaluate")
    if not src_stage:
        return None
    suffix = str(OmegaConf.select(cfg, "stage.run_suffix", default="") or "")
    rel = str(cfg.run_relpath)
    _, rest = rel.split("/", 1)
    if suffix and rest.endswith(suffix):
        rest = rest[: -len(suffix)]
    run_dir = Path(cfg.paths.output_root) / src_stage / rest
    max_steps = None
    recorded = run_dir / "config.yaml"
    if recorded.is_file():
        max_steps = int(OmegaConf.load(recorded).trainer.max_steps)
    return SourceRun(stage=str(src_stage), mode=mode, run_dir=run_dir, max_steps=max_steps)


def generated_setting(cfg: DictConfig) -> dict[str, Any] | None:
    """Where this run's generated images come from, or None when it uses none (baseline, std_*, ratio 1.0).

    Contract with the strategy configs (conf/strategy/base/gen.yaml): a strategy that mixes generated images
    sets ``strategy.manifest`` (the manifest CSV; null for a pool that needs none, as the noise ablation's);
    ``strategy.ratio`` 1.0 means real only; ``strategy.domains`` (optional) keeps only generated rows of those
    domains; ``strategy.generator`` with ``dataset.generate_missing`` writes a missing manifest on first use.
    """
    manifest = OmegaConf.select(cfg, "strategy.manifest", default=None)
    if not manifest:
        return None
    ratio = OmegaConf.select(cfg, "strategy.ratio", default=None)
    if ratio is not None and float(ratio) >= 1.0:
        return None
    domains = OmegaConf.select(cfg, "strategy.domains", default=None)
    if domains is not None and not isinstance(domains, str):
        domains = [str(d) for d in domains]
    # a built-in generator writes a missing manifest on first use where the dataset allows it (ToyCity)
    generates = bool(OmegaConf.select(cfg, "strategy.generator", default=None)) and bool(
        OmegaConf.select(cfg, "dataset.generate_missing", default=False)
    )
    return {"manifest": str(manifest), "dataset": str(cfg.dataset.name), "domains": domains, "generates": generates}
