"""Optimizers with the recipes' parameter groups, and linear warmup followed by poly decay, by step."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prove_lightning.errors import ConfigError

_NO_DECAY_KEYS = ("norm", "bn", ".bias", "pos_block", "position", "query_embed", "level_embed")


def scaled_lr(lr: float, batch_size: int, reference_batch_size: int, rule: str = "linear") -> float:
    """LR for ``batch_size`` given the recipe's LR at ``reference_batch_size`` (linear, sqrt or none)."""
    if rule == "none":
        return lr
    ratio = batch_size / reference_batch_size
    if rule == "linear":
        return lr * ratio
    if rule == "sqrt":
        return lr * ratio**0.5
    raise ConfigError(f"unknown lr scaling rule '{rule}'; use linear, sqrt or none")


def param_groups(net: nn.Module, lr: float, weight_decay: float, head_lr_mult: float = 1.0, backbone_lr_mult: float = 1.0, no_decay_norm: bool = False) -> list[dict[str, Any]]:
    backbone = {n for n, _ in net.backbone_parameters()} if hasattr(net, "backbone_parameters") else set()
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        mult = backbone_lr_mult if name in backbone else head_lr_mult
        decay = weight_decay
        if no_decay_norm and (p.ndim == 1 or any(k in name for k in _NO_DECAY_KEYS)):
            decay = 0.0
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
    )
    name = str(cfg.get("name", "adamw")).lower()
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(cfg.get("betas", (0.9, 0.999))), eps=float(cfg.get("eps", 1e-8)))
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=float(cfg.get("momentum", 0.9)))
    raise ConfigError(f"unknown optimizer '{name}'; use adamw or sgd")


def warmup_poly_factor(step: int, max_steps: int, warmup_steps: int, warmup_ratio: float, power: float, min_lr_ratio: float) -> float:
    """LR multiplier at ``step``: linear from warmup_ratio to 1 over warmup, then poly down to min_lr_ratio at max_steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return warmup_ratio + (1 - warmup_ratio) * step / warmup_steps
    span = max(max_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_lr_ratio + (1 - min_lr_ratio) * (1 - progress) ** power


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: dict[str, Any], max_steps: int, base_lr: float) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = int(cfg.get("warmup_steps", 0))
    warmup_ratio = float(cfg.get("warmup_ratio", 1e-6))
    power = float(cfg.get("power", 1.0))
    min_lr = float(cfg.get("min_lr", 0.0))
    min_ratio = min_lr / base_lr if base_lr > 0 else 0.0
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_poly_factor(step, max_steps, warmup, warmup_ratio, power, min_ratio)
    )
