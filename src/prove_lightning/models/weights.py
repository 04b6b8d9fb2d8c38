"""Pretrained backbone weights from a local file or an existing Hugging Face / timm cache; never the network.

Where the weights come from, in order: ``weights_path`` if that file exists, else the local Hugging Face cache
entry ``hub`` (``{repo_id, filename, revision}``; the cache smp, timm and transformers fill when they download),
looked up with ``local_files_only=True``. When neither is there, a ConfigError names both places and the switch
to train from scratch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from prove_lightning.errors import ConfigError

log = logging.getLogger(__name__)

#: wrappers that checkpoints put around the backbone's own keys; tried when keys do not match as they are
_STRIP_CANDIDATES = ("", "module.", "model.", "backbone.", "encoder.", "swin.")
#: wrappers our modules put around a backbone (smp timm-universal: ``model.``; transformers SwinBackbone: ``swin.``)
_ADD_CANDIDATES = ("", "model.", "swin.")


def _from_hub_cache(hub: Mapping[str, Any]) -> Path | None:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers/timm
        return None
    try:
        path = hf_hub_download(
            repo_id=str(hub["repo_id"]),
            filename=str(hub.get("filename", "model.safetensors")),
            revision=hub.get("revision"),
            local_files_only=True,
        )
    except Exception:  # noqa: BLE001 - any miss (not cached, offline) means "not available here"
        return None
    return Path(path)


def resolve_weights_file(weights_path: str | Path | None, hub: Mapping[str, Any] | None, model_name: str) -> Path:
    """The local file to load, or a ConfigError saying which file is expected where."""
    if weights_path and Path(weights_path).is_file():
        return Path(weights_path)
    cached = _from_hub_cache(hub) if hub else None
    if cached is not None:
        return cached
    where = [f"model.weights_path={weights_path}" if weights_path else "model.weights_path (not set)"]
    if hub:
        where.append(
            f"the Hugging Face cache entry {hub['repo_id']}/{hub.get('filename', 'model.safetensors')} "
            f"(fill it on a machine with network: hf download {hub['repo_id']} {hub.get('filename', 'model.safetensors')})"
        )
    raise ConfigError(
        f"model '{model_name}' has pretrained=true but no backbone weights were found: looked for "
        + " and ".join(where)
        + "; put the ImageNet state dict (.pth/.safetensors) there, or train from scratch with model.pretrained=false"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: Any = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "module"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: not a state dict (got {type(state).__name__}); save one with torch.save(module.state_dict(), path)")
    return state


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, model_name: str) -> dict[str, int]:
    """Load the tensors of ``state`` whose names and shapes match ``module`` (after swapping one wrapper prefix).

    Returns counts {'loaded', 'expected', 'skipped'}; raises when nothing matches (the wrong file).
    """
    own = module.state_dict()
    best: dict[str, torch.Tensor] = {}
    for strip in _STRIP_CANDIDATES:
        for add in _ADD_CANDIDATES:
            cand = {add + k[len(strip):]: v for k, v in state.items() if k.startswith(strip)}
            matched = {k: v for k, v in cand.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
            if len(matched) > len(best):
                best = matched
    if not best:
        raise ConfigError(f"{source}: none of its {len(state)} tensors match the backbone of '{model_name}'; is it the right file?")
    # nn.Module's own method: some encoders override load_state_dict for their checkpoint format (without strict)
    nn.Module.load_state_dict(module, best, strict=False)
    counts = {"loaded": len(best), "expected": len(own), "skipped": len(state) - len(best)}
    if len(best) < len(own):
        log.warning("%s: loaded %d of %d backbone tensors of '%s'", source, len(best), len(own), model_name)
    return counts


def load_pretrained(module: nn.Module, weights_path: str | Path | None, model_name: str, hub: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Resolve the weights file (local path, then HF cache) and load it into ``module`` (the backbone)."""
    path = resolve_weights_file(weights_path, hub, model_name)
    counts = load_into(module, read_state_dict(path), str(path), model_name)
    log.info("loaded %d/%d backbone tensors of '%s' from %s", counts["loaded"], counts["expected"], model_name, path)
    return counts
