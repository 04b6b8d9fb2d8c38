"""std_photometric: MMSeg's PhotoMetricDistortion (brightness, contrast, saturation, hue) as a std_* op.

The standard train pipeline already ends with one PhotoMetricDistortion (the MMSeg recipe, which ``baseline``
keeps); this op adds a second, independent draw with probability ``p``. Colour only: the label is untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prove_lightning.data.augment.base import SampleAugment
from prove_lightning.data.transforms import PhotoMetricDistortion


class Photometric(SampleAugment):
    name = "photometric"

    def __init__(self, p: float = 0.5, brightness_delta: int = 32, contrast_range: tuple[float, float] = (0.5, 1.5), saturation_range: tuple[float, float] = (0.5, 1.5), hue_delta: int = 18) -> None:
        super().__init__(p)
        self.pmd = PhotoMetricDistortion(int(brightness_delta), tuple(contrast_range), tuple(saturation_range), int(hue_delta))  # type: ignore[arg-type]

    def apply(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
        return self.pmd(image, rng), label, "PhotoMetricDistortion"

    def describe(self) -> dict[str, Any]:
        pmd = self.pmd
        return super().describe() | {
            "brightness_delta": pmd.brightness_delta,
            "contrast_range": list(pmd.contrast_range),
            "saturation_range": list(pmd.saturation_range),
            "hue_delta": pmd.hue_delta,
        }
