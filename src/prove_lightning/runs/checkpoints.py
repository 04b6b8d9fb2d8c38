"""Which checkpoint a run resumes from, after checking it: loads, finite, and made for this model.

A truncated ``last.ckpt`` used to wedge a run (every relaunch died in torch's zip reader); now a bad file is moved
aside (``last.ckpt.corrupt-<time>``, never deleted) with a warning naming it and why, and the run resumes from the
newest valid ``step_N.ckpt``. A ``ckpt_path=`` the user names is never moved: it is one CheckpointError naming the
file and what is wrong (for another model's checkpoint: expected vs found architecture). Temp files of atomic
writes that a killed process left behind (``.last.ckpt.*.ckpt.tmp``, ``.config.yaml.*.tmp``) are removed; the
caller holds the run lock, so no live writer owns them.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prove_lightning.errors import CheckpointError

log = logging.getLogger(__name__)

#: temp names of prove_lightning.io.atomic_path: "." + target name + "." + mkstemp's 8 characters + suffix
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.ckpt\.tmp|\.tmp|\.png|\.csv)$")
_STEP = re.compile(r"^step_(\d+)\.ckpt$")


def architecture(checkpoint: dict[str, Any]) -> str:
    """The model a checkpoint was written for: the name SegModule stores, else a count of its tensors."""
    info = checkpoint.get("prove") if isinstance(checkpoint.get("prove"), dict) else {}
    sd = checkpoint.get("state_dict", {})
    name = info.get("model") or "unnamed model"
    return f"{name} ({len(sd)} tensors, {sum(v.numel() for v in sd.values() if isinstance(v, torch.Tensor)):,} values)"


def problem(path: str | Path, module: nn.Module | None = None) -> str | None:
    """Why the checkpoint at ``path`` cannot be used for ``module`` (None: it can)."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, ... for bad files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return f"cannot be loaded ({type(e).__name__}: {first[:160]}); the file is truncated or not a checkpoint"
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        return "is not a training checkpoint (no state_dict)"
    sd: dict[str, Any] = ckpt["state_dict"]
    bad = [k for k, v in sd.items() if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        return f"holds non-finite weights ({len(bad)} tensors, e.g. {bad[0]})"
    if module is not None:
        mismatch = _mismatch(module, ckpt)
        if mismatch:
            return mismatch
    return None


def _mismatch(module: nn.Module, ckpt: dict[str, Any]) -> str | None:
    want = module.state_dict()
    sd = ckpt["state_dict"]
    missing = [k for k in want if k not in sd]
    extra = [k for k in sd if k not in want]
    shapes = [(k, tuple(want[k].shape), tuple(sd[k].shape)) for k in want if k in sd and hasattr(sd[k], "shape") and tuple(want[k].shape) != tuple(sd[k].shape)]
    expected_name = getattr(module, "model_name", "") or type(getattr(module, "net", module)).__name__
    found_name = (ckpt.get("prove") or {}).get("model") if isinstance(ckpt.get("prove"), dict) else None
    if not (missing or extra or shapes) and (not found_name or not expected_name or found_name == expected_name):
        return None
    expected = f"{expected_name} ({len(want)} tensors, {sum(v.numel() for v in want.values()):,} values)"
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
    if shapes:
        k, a, b = shapes[0]
        parts.append(f"{len(shapes)} of another shape (e.g. {k}: {list(b)} in the file, {list(a)} in the model)")
    return f"belongs to another model: expected {expected}, found {architecture(ckpt)}" + (f": {'; '.join(parts)}" if parts else "")


def check_or_raise(path: str | Path, module: nn.Module | None, option: str = "ckpt_path") -> None:
    """For a checkpoint the user named: one CheckpointError naming the file, what is wrong and the fix."""
    why = problem(path, module)
    if why:
        raise CheckpointError(f"{option}={path}: the checkpoint {why}; pass a checkpoint of this model, or drop {option} to resume from the run's own checkpoints")


def move_aside(path: Path) -> Path:
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target, n = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}"), n + 1
    path.replace(target)
    return target


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete temp files of interrupted atomic writes under ``folder`` (call with the run lock held)."""
    removed = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for p in root.rglob(".*"):
        if p.is_file() and _TEMP.match(p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    if removed:
        log.warning("removed %d temp file(s) of interrupted writes under %s, e.g. %s", len(removed), root, removed[0].name)
    return removed


def resume_checkpoint(run_dir: str | Path, module: nn.Module | None) -> str | None:
    """The newest usable checkpoint of the run (last.ckpt, else the highest step_N.ckpt), or None.

    Each unusable one is moved aside with a warning; stale temp files are removed first.
    """
    ckdir = Path(run_dir) / "checkpoints"
    remove_stale_temp_files(run_dir)
    if not ckdir.is_dir():
        return None
    steps = sorted((p for p in ckdir.iterdir() if _STEP.match(p.name)), key=lambda p: -int(_STEP.match(p.name).group(1)))  # type: ignore[union-attr]
    bad: list[str] = []
    for cand in [ckdir / "last.ckpt", *steps]:
        if not cand.is_file():
            continue
        why = problem(cand, module)
        if why is None:
            if bad:
                log.warning("resuming from %s instead", cand)
            return str(cand)
        aside = move_aside(cand)
        msg = f"{cand} {why}: moved aside to {aside.name}"
        log.warning(msg)
        bad.append(msg)
    return None
