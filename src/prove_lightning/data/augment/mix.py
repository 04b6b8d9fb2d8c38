"""std_cutmix and std_mixup: batch ops on the collated uint8 batch, per sample, partner = another sample.

CutMix: for each sample (probability p) draw lambda ~ Beta(alpha, alpha) and a box of area (1 - lambda) of
the image at a uniform centre (clipped at the border); paste the partner's image and label inside the box.
MixUp: image = lam * x + (1 - lam) * partner; the label depends on ``label_mode``:
  - ``dominant`` (default): lam is folded to max(lam, 1 - lam) >= 0.5 and the sample keeps its own label
    (the label of the image that dominates the mix);
  - ``agree``: pixels where the two labels agree keep that class, all others become 255 (ignore).
Soft (two-label) targets would need per-sample loss weights and are not offered.
Batches are mixed across real and generated samples alike: the ops do not look at where a sample came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prove_lightning.data.augment.base import AUGMENT_KEY, BatchAugment, partner, record
from prove_lightning.data.labels import IGNORE_INDEX
from prove_lightning.errors import ConfigError


class CutMix(BatchAugment):
    name = "cutmix"
    stream = 1

    def __init__(self, p: float = 0.5, seed: int = 42, alpha: float = 1.0) -> None:
        super().__init__(p, seed)
        if alpha <= 0:
            raise ConfigError(f"augment cutmix: alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def apply(self, batch: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        image, label = batch["image"], batch["label"]
        n, _, h, w = image.shape
        if n < 2:
            return batch
        src_img, src_lab = image.clone(), label.clone()
        for i in range(n):
            if rng.random() >= self.p:
                continue
            j = partner(rng, i, n)
            lam = rng.beta(self.alpha, self.alpha)
            r = float(np.sqrt(1.0 - lam))
            bh, bw = int(round(h * r)), int(round(w * r))
            cy, cx = int(rng.integers(h)), int(rng.integers(w))
            y0, y1 = max(cy - bh // 2, 0), min(cy - bh // 2 + bh, h)
            x0, x1 = max(cx - bw // 2, 0), min(cx - bw // 2 + bw, w)
            if y1 <= y0 or x1 <= x0:
                continue
            image[i, :, y0:y1, x0:x1] = src_img[j, :, y0:y1, x0:x1]
            label[i, y0:y1, x0:x1] = src_lab[j, y0:y1, x0:x1]
            batch[AUGMENT_KEY][i] = record(batch[AUGMENT_KEY][i], f"cutmix:box=({y0},{x0},{y1},{x1})<-{j}")
        return batch

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"alpha": self.alpha, "boxes": "one per sample", "label": "pasted with the box"}


class MixUp(BatchAugment):
    name = "mixup"
    stream = 2
    LABEL_MODES = ("dominant", "agree")

    def __init__(self, p: float = 0.5, seed: int = 42, alpha: float = 0.4, label_mode: str = "dominant") -> None:
        super().__init__(p, seed)
        if alpha <= 0:
            raise ConfigError(f"augment mixup: alpha must be > 0, got {alpha}")
        if label_mode not in self.LABEL_MODES:
            raise ConfigError(f"augment mixup: label_mode must be one of {self.LABEL_MODES}, got '{label_mode}'")
        self.alpha, self.label_mode = float(alpha), label_mode

    def apply(self, batch: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        image, label = batch["image"], batch["label"]
        n = image.shape[0]
        if n < 2:
            return batch
        src_img, src_lab = image.clone(), label.clone()
        for i in range(n):
            if rng.random() >= self.p:
                continue
            j = partner(rng, i, n)
            lam = float(rng.beta(self.alpha, self.alpha))
            if self.label_mode == "dominant":
                lam = max(lam, 1.0 - lam)
            mixed = lam * src_img[i].float() + (1.0 - lam) * src_img[j].float()
            image[i] = mixed.round().clamp(0, 255).to(image.dtype)
            if self.label_mode == "agree":
                label[i] = torch.where(src_lab[i] == src_lab[j], src_lab[i], torch.full_like(src_lab[i], IGNORE_INDEX))
            batch[AUGMENT_KEY][i] = record(batch[AUGMENT_KEY][i], f"mixup:lam={lam:.3f}<-{j}")
        return batch

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"alpha": self.alpha, "label_mode": self.label_mode}
