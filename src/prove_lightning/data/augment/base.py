"""The two kinds of classic (std_*) augmentation and how they record what they did.

SampleAugment runs in the data loader on every training sample (real or generated alike) after the train
pipeline, drawing from that sample's np.random.Generator, so it is a pure function of (seed, step, slot).
BatchAugment runs in SegModule.training_step on the collated batch (real and generated alike), drawing from a
generator seeded by (seed, step, rank, op). Both append what they applied to the sample's ``augment`` string
(``op:detail`` entries joined by ';'), which SegModule counts into the run's audit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prove_lightning.errors import ConfigError

AUGMENT_KEY = "augment"


def record(sample_or_entry: str, entry: str) -> str:
    return f"{sample_or_entry};{entry}" if sample_or_entry else entry


def check_p(p: float, name: str) -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ConfigError(f"augment {name}: p must be a probability in [0, 1], got {p}")
    return float(p)


def changed(image0: np.ndarray, label0: np.ndarray, image: np.ndarray, label: np.ndarray) -> bool:
    """True when an op's output differs from its input (shape or any pixel of image or label)."""
    return not (image is image0 or np.array_equal(image, image0)) or not (label is label0 or np.array_equal(label, label0))


class SampleAugment:
    """A per-sample op applied with probability ``p``: subclasses implement ``apply(image, label, rng)``.

    ``image`` is (H, W, 3) uint8 RGB, ``label`` (H, W) trainIds with 255 = ignore; ``apply`` returns both and a
    short description of what it did (e.g. ``Rotate(-12.0)+Solarize(178)``).
    """

    name = "sample_augment"

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_p(p, self.name)

    def apply(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        raise NotImplementedError

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        sample.setdefault(AUGMENT_KEY, "")
        if rng.random() >= self.p:  # always one draw, so later ops see the same stream either way
            return sample
        image0, label0 = np.ascontiguousarray(sample["image"]), np.ascontiguousarray(sample["label"])
        image, label, what = self.apply(image0, label0, rng)
        if image.shape[:2] != label.shape[:2]:
            raise AssertionError(f"{self.name} changed image {image.shape} and label {label.shape} differently")
        sample["image"], sample["label"] = image, label
        # the audit counts samples the op changed: a drawn op that left the sample as it was (AutoAugment's
        # sub-policy coins all tails, Identity, Equalize of an equalized image) is not an application
        if what and changed(image0, label0, image, label):
            sample[AUGMENT_KEY] = record(sample[AUGMENT_KEY], f"{self.name}:{what}")
        return sample

    def describe(self) -> dict[str, Any]:
        return {"op": self.name, "where": "per sample (data loader)", "p": self.p}


class BatchAugment:
    """A batch op (after collation, before normalisation): subclasses implement ``apply(batch, rng) -> batch``."""

    name = "batch_augment"
    stream = 0  # distinguishes the random streams of different batch ops

    def __init__(self, p: float = 0.5, seed: int = 42) -> None:
        self.p = check_p(p, self.name)
        self.seed = int(seed)

    def rng(self, step: int) -> np.random.Generator:
        rank = torch.distributed.get_rank() if torch.distributed.is_available() and torch.distributed.is_initialized() else 0
        return np.random.default_rng([self.seed, int(step), rank, 0xA06, self.stream])

    def apply(self, batch: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def __call__(self, batch: dict[str, Any], step: int) -> dict[str, Any]:
        n = batch["image"].shape[0]
        if AUGMENT_KEY not in batch:
            batch[AUGMENT_KEY] = [""] * n
        return self.apply(batch, self.rng(step))

    def describe(self) -> dict[str, Any]:
        return {"op": self.name, "where": "per batch (SegModule.training_step)", "p": self.p}


def partner(rng: np.random.Generator, i: int, n: int) -> int:
    """A uniformly drawn other index of the batch (never ``i`` itself)."""
    j = int(rng.integers(n - 1))
    return j + (j >= i)
