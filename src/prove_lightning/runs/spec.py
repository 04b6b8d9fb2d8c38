"""A run's identity and layout as plain data: :class:`RunSpec` (built once per job) and :class:`RunDir`.

The entry points compose a Hydra config and turn it into one RunSpec (``tasks/spec.py``); everything below
them (pre-flight, plan, tests, the results rows) reads the run's stage, strategy, dataset key, test sets,
source run and paths from it, so no two places can derive a run's identity two ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

#: the fields that name a run; a run directory holds exactly one combination of them
IDENTITY_FIELDS = ("stage", "strategy", "augment", "dataset", "model", "ratio", "loss", "seed", "run_suffix", "max_steps")


@dataclass(frozen=True)
class RunDir:
    """Every path inside one run directory."""

    path: Path

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def step_ckpt(self, step: int) -> Path:
        return self.checkpoints / f"step_{int(step)}.ckpt"

    @property
    def last_ckpt(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def config_yaml(self) -> Path:
        return self.path / "config.yaml"

    @property
    def audit_json(self) -> Path:
        return self.path / "audit.json"

    @property
    def version_json(self) -> Path:
        return self.path / "version.json"

    @property
    def identity_json(self) -> Path:
        return self.path / "identity.json"

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def test_dir(self, step: int) -> Path:
        return self.path / "test" / f"step_{int(step)}"

    def test_json(self, step: int, test_set: str) -> Path:
        return self.test_dir(step) / f"{test_set}.json"

    def step_checkpoints(self) -> list[tuple[int, Path]]:
        """(step, path) of every ``step_N.ckpt``, by step."""
        found = ((re.fullmatch(r"step_(\d+)\.ckpt", p.name), p) for p in self.checkpoints.glob("step_*.ckpt"))
        return sorted((int(m.group(1)), p) for m, p in found if m)


@dataclass(frozen=True)
class SourceRun:
    """A finished run of another stage that this run continues (extend_from) or evaluates (evaluate_from)."""

    stage: str
    mode: str  # 'extend' or 'evaluate'
    run_dir: Path

    @property
    def max_steps(self) -> int | None:
        """From the source's recorded config.yaml; None when the source has not started."""
        recorded = self.run_dir / "config.yaml"
        if not recorded.is_file():
            return None
        import yaml

        return int(yaml.safe_load(recorded.read_text())["trainer"]["max_steps"])

    @property
    def final_ckpt(self) -> Path | None:
        steps = self.max_steps
        return None if steps is None else RunDir(self.run_dir).step_ckpt(steps)

    @property
    def finished(self) -> bool:
        ck = self.final_ckpt
        return ck is not None and ck.is_file()

    def describe(self) -> str:
        if self.max_steps is None:
            return f"{self.run_dir} has no config.yaml (run stage={self.stage} for this strategy/dataset/model first)"
        return f"{self.final_ckpt} {'exists' if self.finished else 'does not exist yet'}"


@dataclass(frozen=True)
class GeneratedSetting:
    """Where a run's generated images come from (strategy.manifest and friends)."""

    manifest: str
    dataset: str  # the run's dataset key
    aliases: tuple[str, ...] = ()  # other names the manifest may use for it (the stratified folder name)
    domains: tuple[str, ...] | None = None
    generates: bool = False  # a built-in generator writes a missing manifest on first use


@dataclass(frozen=True)
class TestSetConfig:
    """One test set of a stage: the name its rows are stored under and its resolved dataset config."""

    __test__ = False  # not a pytest class

    name: str
    dataset: Mapping[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class RunSpec:
    """Everything a job needs to know about its run, derived once from the composed config."""

    stage: str
    strategy: str
    augment: str
    dataset: str  # the one dataset key: run path, manifests, pre-flight, result rows
    model: str
    ratio: float | None
    loss: str
    seed: int
    run_suffix: str
    max_steps: int
    run_id: str  # the relative run path
    output_root: Path  # the run root: run directories and results.csv (paths.output_root, or its debug/<mode>/)
    run_dir: RunDir
    test_sets: tuple[TestSetConfig, ...]
    source: SourceRun | None = None
    generated: GeneratedSetting | None = None
    extend_lr: str = "recompute"
    #: an extended stage's continuation of its source (audit.json "extension"); None for other runs
    extension: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    #: stage.test_checkpoints (final | all | [steps]) and the interval checkpoints are saved at
    test_checkpoints: Any = "final"
    checkpoint_interval: int = 0
    ckpt_path: str | None = None
    test_after_training: bool = True
    allow_config_change: bool = False  # continue a run directory whose recorded settings differ (runs/identity.py)
    preflight: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: the resolved config (plain containers) the run's parts are built from and config.yaml is written from
    config: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False, repr=False)

    @property
    def identity(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in IDENTITY_FIELDS}

    @property
    def final_ckpt(self) -> Path:
        return self.run_dir.step_ckpt(self.max_steps)

    def checkpoints_to_test(self) -> list[tuple[int, Path]]:
        """(step, checkpoint file) of every checkpoint tested after training (runs/test_checkpoints.py)."""
        from prove_lightning.runs.test_checkpoints import checkpoints_to_test

        return checkpoints_to_test(self.test_checkpoints, self.max_steps, self.checkpoint_interval, self.run_dir.path, self.source)

    @property
    def test_set_names(self) -> list[str]:
        return [t.name for t in self.test_sets]

    @property
    def row_identity(self) -> dict[str, Any]:
        """The identity columns of a result row."""
        return {
            "run_id": self.run_id, "stage": self.stage, "strategy": self.strategy, "augment": self.augment,
            "dataset": self.dataset, "model": self.model, "ratio": self.ratio if self.ratio is not None else 1.0,
            "loss": self.loss, "seed": self.seed,
        }
