"""Pretrained backbone weights from a local file or an existing Hugging Face / timm cache; never the network.

Where the weights come from, in order: ``weights_path`` if that file exists, else the local Hugging Face cache
entry ``hub`` (``{repo_id, filename, revision}``; the cache smp, timm and transformers fill when they download),
looked up with ``local_files_only=True``. When neither is there, a ConfigError names both places and the switch
to train from scratch.
"""

from __future__ import annotations

import logging
import os
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
#: by default a weights file must fill every backbone tensor (shape-checked); a lower fraction is an explicit choice
DEFAULT_MIN_FRACTION = 1.0
MIN_FRACTION_ENV = "PROVE_WEIGHTS_MIN_FRACTION"
#: backbone layers our wrappers add on top of the ImageNet model (transformers SwinBackbone's per-stage output norms)
NOT_IN_PRETRAINED = ("hidden_states_norms.",)
MAX_LISTED = 8


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
            f"(fill it on a machine with network: huggingface-cli download {hub['repo_id']} {hub.get('filename', 'model.safetensors')})"
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


def _min_fraction(value: float | None) -> float:
    """The fraction of backbone tensors a weights file must fill: the argument, else PROVE_WEIGHTS_MIN_FRACTION, else 1."""
    if value is None:
        value = float(os.environ.get(MIN_FRACTION_ENV, DEFAULT_MIN_FRACTION))
    if not 0.0 < float(value) <= 1.0:
        raise ConfigError(f"minimum fraction of matching backbone tensors must be in (0, 1], got {value} ({MIN_FRACTION_ENV} or min_fraction)")
    return float(value)


def _expected(own: Mapping[str, torch.Tensor]) -> list[str]:
    """The backbone tensors a pretrained file must provide: all but BN step counters and layers our wrappers add."""
    return [k for k in own if not k.endswith("num_batches_tracked") and not any(p in k for p in NOT_IN_PRETRAINED)]


def _mismatches(expected: list[str], own: Mapping[str, torch.Tensor], cand: Mapping[str, torch.Tensor], limit: int = MAX_LISTED) -> list[str]:
    out = []
    for k in expected:
        if k in cand and tuple(cand[k].shape) == tuple(own[k].shape):
            continue
        out.append(f"{k}: shape {tuple(cand[k].shape)} in the file, {tuple(own[k].shape)} in the model" if k in cand else f"{k}: not in the file")
        if len(out) >= limit:
            break
    return out


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, model_name: str, min_fraction: float | None = None) -> dict[str, int]:
    """Load the tensors of ``state`` whose names and shapes match ``module`` (after swapping one wrapper prefix).

    All or nothing: when fewer than ``min_fraction`` (default 1: every backbone tensor, shape-checked) of the
    backbone's tensors match, nothing is loaded and a ConfigError lists the first mismatches; a file that fills
    1 of 318 tensors is the wrong file, not a pretrained model. Returns counts {'loaded', 'expected', 'skipped'}.
    """
    need = _min_fraction(min_fraction)
    own = module.state_dict()
    expected = _expected(own)
    # the prefix swap under which most tensors match (ties: most names in common, for the mismatch list)
    score: tuple[int, int] = (-1, -1)
    best: dict[str, torch.Tensor] = {}
    best_cand: dict[str, torch.Tensor] = {}
    for strip in _STRIP_CANDIDATES:
        for add in _ADD_CANDIDATES:
            cand = {add + k[len(strip):]: v for k, v in state.items() if k.startswith(strip)}
            matched = {k: v for k, v in cand.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
            here = (len(matched), sum(k in own for k in cand))
            if here > score:
                score, best, best_cand = here, matched, cand
    n_ok = sum(k in best for k in expected)
    if not expected or n_ok < need * len(expected):
        listed = _mismatches(expected, own, best_cand)
        raise ConfigError(
            f"{source}: only {n_ok} of the {len(expected)} backbone tensors of '{model_name}' match the file by name and "
            f"shape (need {'all' if need == 1.0 else f'{need:.0%}'}); first mismatches: " + "; ".join(listed)
            + f". Is it the right file for this backbone? (convert it, or accept a partial match with {MIN_FRACTION_ENV}=<fraction>)"
        )
    # nn.Module's own method: some encoders override load_state_dict for their checkpoint format (without strict)
    nn.Module.load_state_dict(module, best, strict=False)
    counts = {"loaded": len(best), "expected": len(expected), "skipped": len(state) - len(best)}
    if n_ok < len(expected):
        log.warning("%s: loaded %d of %d backbone tensors of '%s' (%s=%s)", source, n_ok, len(expected), model_name, MIN_FRACTION_ENV, need)
    return counts


def load_pretrained(module: nn.Module, weights_path: str | Path | None, model_name: str, hub: Mapping[str, Any] | None = None, min_fraction: float | None = None) -> dict[str, int]:
    """Resolve the weights file (local path, then HF cache) and load it into ``module`` (the backbone), all or nothing."""
    path = resolve_weights_file(weights_path, hub, model_name)
    state = read_state_dict(path)
    if "conv1.0.weight" in module.state_dict():  # a deep-stem ResNet: MMSeg's V1c files name the stem differently
        from prove_lightning.models.v1c_keys import looks_like_mmseg_v1c, mmseg_v1c_to_timm

        if looks_like_mmseg_v1c(state):
            state, report = mmseg_v1c_to_timm(state)
            log.info("%s: MMSeg ResNetV1c keys converted on the fly (%s)", path, report.lines()[0])
    counts = load_into(module, state, str(path), model_name, min_fraction)
    log.info("loaded %d/%d backbone tensors of '%s' from %s", counts["loaded"], counts["expected"], model_name, path)
    return counts
