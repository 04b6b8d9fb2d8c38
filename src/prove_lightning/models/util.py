"""Small helpers shared by the model builders."""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> Any:
    """Hydra hands builders DictConfig/ListConfig; libraries with strict type checks (transformers configs) want dict/list."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value
