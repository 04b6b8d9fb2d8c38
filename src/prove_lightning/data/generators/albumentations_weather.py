"""gen_albumentations_weather: albumentations' weather transforms (RandomFog, RandomRain, RandomSnow,
RandomSunFlare, RandomShadow, plus brightness/colour ops), one composed recipe per raw target.

The recipes are config (strategy gen_albumentations_weather, ``generator.targets``): a mapping from raw
target name to a list of albumentations transforms (each with its own ``p``); this class only composes
and seeds them.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import albumentations as A
import numpy as np

from prove_lightning.data.generators.base import Generator
from prove_lightning.errors import ConfigError


class AlbumentationsWeather(Generator):
    def __init__(self, targets: Mapping[str, Sequence[Any]], source_domains: Sequence[str] = ("clear_day",), seed: int = 0) -> None:
        super().__init__(source_domains, seed)
        if not targets:
            raise ConfigError("strategy.generator.targets is empty; give at least one target with a list of albumentations transforms")
        self._pipes: dict[str, A.Compose] = {}
        for name, ops in targets.items():
            ops = list(ops)
            bad = [o for o in ops if not isinstance(o, A.BasicTransform)]
            if bad or not ops:
                raise ConfigError(f"strategy.generator.targets.{name} must be a non-empty list of albumentations transforms (with _target_), got {bad or ops}")
            self._pipes[str(name)] = A.Compose(ops)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._pipes)

    def translate(self, image: np.ndarray, target: str, seed: int) -> np.ndarray:
        pipe = self._pipes[target]
        pipe.set_random_seed(seed)
        return pipe(image=image)["image"]

    def params(self) -> dict[str, Any]:
        return {**super().params(), "targets": {t: [repr(o) for o in p.transforms] for t, p in self._pipes.items()}}

