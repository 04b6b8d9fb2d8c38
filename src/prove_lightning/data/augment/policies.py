"""std_autoaugment and std_randaugment: the published policies, applied label-aware per sample.

AutoAugment (Cubuk et al. 2019), ImageNet policy: one of 25 sub-policies drawn uniformly, each of its two ops
applied with its own probability at its magnitude bin (10 bins). RandAugment (Cubuk et al. 2020): ``num_ops``
ops drawn uniformly with replacement from 14, all at one magnitude (bin ``magnitude`` of ``num_magnitude_bins``).
Signed ops (shear, translate, rotate, enhance) take a random direction. Unlike the old pipeline: every op
works (equalize, sharpness), solarize thresholds follow the paper, geometric ops fill the label with 255, and
the coin flip is per sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prove_lightning.data.augment import ops
from prove_lightning.data.augment.base import SampleAugment, changed
from prove_lightning.errors import ConfigError

# (op, probability, magnitude bin of 10) pairs
IMAGENET_POLICY: tuple[tuple[tuple[str, float, int | None], tuple[str, float, int | None]], ...] = (
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
    (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
    (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
    (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
    (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
    (("Color", 0.4, 0), ("Equalize", 0.6, None)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
)
POLICIES = {"imagenet": IMAGENET_POLICY}
RANDAUGMENT_OPS = (
    "Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
    "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize",
)  # fmt: skip


class AutoAugment(SampleAugment):
    name = "autoaugment"

    def __init__(self, p: float = 0.5, policy: str = "imagenet") -> None:
        super().__init__(p)
        if policy not in POLICIES:
            raise ConfigError(f"augment autoaugment: unknown policy '{policy}'; use one of {sorted(POLICIES)}")
        self.policy_name, self.policy = policy, POLICIES[policy]

    def apply(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        sub = self.policy[int(rng.integers(len(self.policy)))]
        done = []
        for name, prob, m in sub:
            if rng.random() < prob:
                image1, label1, what = ops.run(name, image, label, m, 10, rng)
                if changed(image, label, image1, label1):  # only ops that changed the sample are recorded
                    done.append(what)
                image, label = image1, label1
        return image, label, "+".join(done)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"policy": self.policy_name, "sub_policies": len(self.policy), "label_fill": 255}


class RandAugment(SampleAugment):
    name = "randaugment"

    def __init__(self, p: float = 0.5, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31) -> None:
        super().__init__(p)
        if not 0 <= magnitude < num_magnitude_bins:
            raise ConfigError(f"augment randaugment: magnitude must be in [0, {num_magnitude_bins - 1}], got {magnitude}")
        if num_ops < 1:
            raise ConfigError(f"augment randaugment: num_ops must be >= 1, got {num_ops}")
        self.num_ops, self.magnitude, self.bins = int(num_ops), int(magnitude), int(num_magnitude_bins)

    def apply(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        done = []
        for _ in range(self.num_ops):
            name = RANDAUGMENT_OPS[int(rng.integers(len(RANDAUGMENT_OPS)))]
            image1, label1, what = ops.run(name, image, label, self.magnitude, self.bins, rng)
            if changed(image, label, image1, label1):
                done.append(what)
            image, label = image1, label1
        return image, label, "+".join(done)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"num_ops": self.num_ops, "magnitude": self.magnitude, "num_magnitude_bins": self.bins, "ops": list(RANDAUGMENT_OPS), "label_fill": 255}
