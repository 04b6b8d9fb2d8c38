"""Losses: a main term plus optional weighted extra terms, all ignoring label 255."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from prove_lightning.data.labels import IGNORE_INDEX


class CrossEntropy(nn.CrossEntropyLoss):
    def __init__(self, ignore_index: int = IGNORE_INDEX, **kw) -> None:
        super().__init__(ignore_index=ignore_index, **kw)


class CompositeLoss(nn.Module):
    """main(logits, label) + sum(weight * term(logits, label)); ``aux_weight`` scales the auxiliary head's main loss."""

    def __init__(self, main: nn.Module, extra: Mapping[str, Mapping] | None = None, aux_weight: float = 0.4) -> None:
        super().__init__()
        self.main = main
        self.extra = nn.ModuleDict({k: v["term"] for k, v in (extra or {}).items()})
        self.weights = {k: float(v.get("weight", 1.0)) for k, v in (extra or {}).items()}
        self.aux_weight = aux_weight

    def forward(self, outputs: Mapping[str, torch.Tensor], label: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = outputs["out"]
        terms = {"main": self.main(logits, label)}
        for name, term in self.extra.items():
            terms[name] = self.weights[name] * term(logits, label)
        if "aux" in outputs:
            terms["aux_head"] = self.aux_weight * self.main(outputs["aux"], label)
        terms["loss"] = torch.stack(list(terms.values())).sum()
        return terms
