"""ToyCity as a dataset source: generated on first use, then read like any stratified dataset."""

from __future__ import annotations

from pathlib import Path

from prove_lightning.data.sources.stratified import StratifiedSource
from prove_lightning.data.toycity import DATASET_DIR, ToyCitySpec, ensure_toycity


class ToyCitySource(StratifiedSource):
    def __init__(self, root: str | Path, seed: int = 0, height: int = 96, width: int = 192, n_train: int = 120, n_test: int = 24) -> None:
        self.spec = ToyCitySpec(seed=seed, height=height, width=width, n_train=n_train, n_test=n_test)
        self.cache_root = Path(root)
        super().__init__(root=self.cache_root / self.spec.key(), dataset_dir=DATASET_DIR, name="toycity")

    def check_root(self) -> None:
        ensure_toycity(self.cache_root, self.spec)  # generate on first use (locked, atomic)
        super().check_root()
