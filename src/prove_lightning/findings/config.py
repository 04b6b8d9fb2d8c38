"""The findings settings (conf/findings/default.yaml) and the stage fields they need, read without Hydra.

Why not compose: the findings commands run on login nodes over thousands of rows; reading two YAML files is
instant and keeps torch and Hydra out. A stage's fields are its own file merged over its ``defaults`` parents
(plain stage names such as ``s1``), as Hydra would for the ``stage`` key.
"""

from __future__ import annotations

import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from prove_lightning.config import CONF_DIR
from prove_lightning.errors import ConfigError


@lru_cache(maxsize=4)
def findings_config(path: str | None = None) -> dict[str, Any]:
    """The findings settings as a plain dict (``path`` overrides conf/findings/default.yaml)."""
    file = Path(path) if path else CONF_DIR / "findings" / "default.yaml"
    if not file.is_file():
        raise ConfigError(f"findings config {file} not found; pass --findings-config FILE")
    return OmegaConf.to_container(OmegaConf.load(file), resolve=True)  # type: ignore[return-value]


@lru_cache(maxsize=64)
def stage_fields(name: str) -> dict[str, Any]:
    """The ``stage:`` block of conf/stage/<name>.yaml merged over its parent stages; {} for an unknown stage."""
    file = CONF_DIR / "stage" / f"{name}.yaml"
    if not file.is_file():
        return {}
    node = OmegaConf.to_container(OmegaConf.load(file), resolve=False) or {}
    merged: dict[str, Any] = {}
    for parent in node.get("defaults", []) or []:
        if isinstance(parent, str) and "/" not in parent and parent != "_self_":
            merged.update(stage_fields(parent))
    merged.update(node.get("stage", {}) or {})
    return merged


def baseline_stages(stage: str) -> list[str]:
    """Where a stage's baseline rows live: the stage itself, then its ``stage.baseline_stage`` (str or list)."""
    ref = stage_fields(stage).get("baseline_stage")
    refs = [ref] if isinstance(ref, str) else list(ref or [])
    return [stage, *[r for r in refs if r != stage]]


def family_of(strategy: str, families: dict[str, list[str]]) -> str:
    """The first family whose patterns (globs) match the strategy's base name (before any '+augment')."""
    base = strategy.split("+", 1)[0]
    for fam, patterns in families.items():
        if any(fnmatch.fnmatchcase(base, p) for p in patterns):
            return fam
    return "Other"
