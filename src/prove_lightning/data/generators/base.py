"""What a built-in generator provides: raw target names and a seeded translation of one image."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np


class Generator(ABC):
    """Translate RGB uint8 images into each raw target domain; the same (seed, image, target) gives the same output."""

    def __init__(self, source_domains: Sequence[str] = ("clear_day",), seed: int = 0) -> None:
        self.source_domains = tuple(source_domains)
        self.seed = int(seed)

    @property
    @abstractmethod
    def targets(self) -> tuple[str, ...]:
        """Raw target-domain names, used as folder names (normalised by manifest.domain_aliases)."""

    @abstractmethod
    def translate(self, image: np.ndarray, target: str, seed: int) -> np.ndarray:
        """The translated RGB uint8 image, same height and width as ``image``."""

    def params(self) -> dict[str, Any]:
        """Everything that changes the output (the cache is rebuilt when it changes)."""
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}", "source_domains": list(self.source_domains), "seed": self.seed}

    def image_seed(self, stem: str, target: str) -> int:
        return int(np.random.SeedSequence([self.seed, zlib.crc32(stem.encode()), zlib.crc32(target.encode())]).generate_state(1)[0])
