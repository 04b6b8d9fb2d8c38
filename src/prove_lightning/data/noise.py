"""Noise replacement: the image of every generated sample becomes uniform noise; its label is kept.

Applied as a sample hook inside SegDataset, after the train pipeline (crop, resize, flip, photometric),
so the model sees i.i.d. uniform pixels in [0, 255] in every generated slot, whatever the source
image was. Every sample gets a ``noise`` flag so the audit counts replaced slots from loaded batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class UniformNoise:
    """Replace ``sample['image']`` of generated samples by uniform uint8 noise drawn from the sample's generator."""

    pools = ("generated",)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        replace = bool(sample["generated"])
        if replace:
            sample["image"] = rng.integers(0, 256, size=np.shape(sample["image"]), dtype=np.uint8)
        sample["noise"] = replace
        return sample

    def describe(self) -> str:
        return "ReplaceWithUniformNoise(image -> iid uniform uint8 [0, 255] per pixel and channel; label kept)"
