"""Optimizers with the recipes' parameter groups, and linear warmup followed by poly decay, by step."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from prove_lightning.errors import ConfigError

#: modules whose parameters get no weight decay when ``no_decay_norm`` is set (MMSeg's norm_decay_mult=0)
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def scaled_lr(lr: float, batch_size: int, reference_batch_size: int, rule: str = "linear") -> float:
    """LR for ``batch_size`` given the recipe's LR at ``reference_batch_size`` (linear, sqrt or none).

    ``batch_size`` is the global batch the recipe's LR refers to; the caller passes it once and never
    multiplies by the number of devices again (the old pipeline's double scaling).
    """
    if rule == "none":
        return lr
    ratio = batch_size / reference_batch_size
    if rule == "linear":
        return lr * ratio
    if rule == "sqrt":
        return lr * ratio**0.5
    raise ConfigError(f"unknown lr scaling rule '{rule}'; use linear, sqrt or none")


def global_batch_size(batch_size: int, devices: Any = 1, num_nodes: int = 1) -> int:
    """Samples per optimizer step: the per-device ``data.batch_size`` x devices x nodes (what the LR rule scales by)."""
    if isinstance(devices, (list, tuple)) or (hasattr(devices, "__len__") and not isinstance(devices, str)):
        n = len(devices)
    elif isinstance(devices, int) and devices > 0:
        n = devices
    elif str(devices).isdigit() and int(devices) > 0:
        n = int(devices)
    else:  # "auto" / -1: every visible GPU, or one CPU process
        n = max(torch.cuda.device_count(), 1)
    return int(batch_size) * n * max(int(num_nodes or 1), 1)


def no_decay_names(net: nn.Module, norms: bool, keys: Sequence[str] = ()) -> set[str]:
    """Parameters exempt from weight decay: those of normalisation layers (by type) and names containing ``keys``."""
    names: set[str] = set()
    if norms:
        for mname, module in net.named_modules():
            if isinstance(module, _NORM_TYPES):
                names.update(f"{mname}.{p}" if mname else p for p, _ in module.named_parameters(recurse=False))
    if keys:
        names.update(n for n, _ in net.named_parameters() if any(k in n for k in keys))
    return names


def param_groups(
    net: nn.Module,
    lr: float,
    weight_decay: float,
    head_lr_mult: float = 1.0,
    backbone_lr_mult: float = 1.0,
    no_decay_norm: bool = False,
    no_decay_keys: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Groups by (lr, weight decay): backbone vs head LR multipliers (``net.backbone_parameters()``), and no decay
    on normalisation layers and on parameters whose names contain one of ``no_decay_keys`` (e.g. pos_block)."""
    backbone = {n for n, _ in net.backbone_parameters()} if hasattr(net, "backbone_parameters") else set()
    exempt = no_decay_names(net, no_decay_norm, no_decay_keys)
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        mult = backbone_lr_mult if name in backbone else head_lr_mult
        decay = 0.0 if name in exempt else weight_decay
        groups.setdefault((lr * mult, decay), []).append(p)
    return [{"params": ps, "lr": g_lr, "weight_decay": wd, "initial_lr": g_lr} for (g_lr, wd), ps in groups.items()]


def build_optimizer(net: nn.Module, cfg: dict[str, Any], lr: float) -> torch.optim.Optimizer:
    groups = param_groups(
        net,
        lr,
        float(cfg.get("weight_decay", 0.0)),
        float(cfg.get("head_lr_mult", 1.0)),
        float(cfg.get("backbone_lr_mult", 1.0)),
        bool(cfg.get("no_decay_norm", False)),
        tuple(cfg.get("no_decay_keys", ())),
    )
    name = str(cfg.get("name", "adamw")).lower()
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(cfg.get("betas", (0.9, 0.999))), eps=float(cfg.get("eps", 1e-8)))
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=float(cfg.get("momentum", 0.9)))
    raise ConfigError(f"unknown optimizer '{name}'; use adamw or sgd")


def warmup_poly_factor(
    step: int, max_steps: int, warmup_steps: int, warmup_ratio: float, power: float, min_lr_ratio: float, convention: str = "mmengine"
) -> float:
    """LR multiplier at ``step`` (0-based, the step the LR is used for): linear warmup, then poly decay.

    ``mmengine`` (default) is MMSeg's ``LinearLR(start_factor=r, begin=0, end=W)`` + ``PolyLR(eta_min, power=p,
    begin=W, end=M)`` step for step. Their ``end`` is exclusive (total_iters = end - begin - 1), so the warmup
    reaches 1 at step W-1 and the decay reaches min_lr at step M-1, the last step trained::

        t <  W:  r + (1 - r) * t / (W - 1)
        t >= W:  m + (1 - m) * (1 - min(t - W, M - W - 1) / (M - W - 1)) ** p      (m = min_lr / lr)

    ``prove`` is this module's rule before issue 11 (t / W and (t - W) / (M - W)): each target one step later
    (1 at step W, min_lr at step M, which is never trained: the last step ran at m + (1-m) / (M-W) ** p).
    """
    if convention == "mmengine":
        warm_span, decay_span = max(warmup_steps - 1, 1), max(max_steps - warmup_steps - 1, 1)
    elif convention == "prove":
        warm_span, decay_span = max(warmup_steps, 1), max(max_steps - warmup_steps, 1)
    else:
        raise ConfigError(f"model.scheduler.convention={convention!r}: use mmengine (MMSeg's LinearLR + PolyLR) or prove")
    if warmup_steps > 0 and step < warmup_steps:
        return warmup_ratio + (1 - warmup_ratio) * step / warm_span
    progress = min(max(step - warmup_steps, 0) / decay_span, 1.0)
    return min_lr_ratio + (1 - min_lr_ratio) * (1 - progress) ** power


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: dict[str, Any], max_steps: int, base_lr: float) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = int(cfg.get("warmup_steps", 0))
    warmup_ratio = float(cfg.get("warmup_ratio", 1e-6))
    power = float(cfg.get("power", 1.0))
    min_lr = float(cfg.get("min_lr", 0.0))
    min_ratio = min_lr / base_lr if base_lr > 0 else 0.0
    convention = str(cfg.get("convention", "mmengine"))
    warmup_poly_factor(0, max_steps, warmup, warmup_ratio, power, min_ratio, convention)  # a bad convention fails here
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_poly_factor(step, max_steps, warmup, warmup_ratio, power, min_ratio, convention)
    )
