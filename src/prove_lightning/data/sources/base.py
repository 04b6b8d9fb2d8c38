"""What every dataset adapter provides: records per split and the name of its label mapping."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from prove_lightning.data.records import SampleRecord
from prove_lightning.errors import DataError


class DatasetSource(ABC):
    """Indexes one dataset tree; ``records('val')`` returns [] when the dataset has no val split of its own."""

    #: key of the dataset (cityscapes, toycity, ...)
    name: str
    #: key in data.labels' registry
    label_mapping: str = "trainids"
    #: True when the dataset ships its own validation split
    has_val_split: bool = False

    @abstractmethod
    def records(self, split: str) -> list[SampleRecord]:
        """All labelled samples of ``split`` ('train', 'val' or 'test')."""

    @staticmethod
    def require_dir(path: Path, what: str, fix: str) -> Path:
        if not path.is_dir():
            raise DataError(f"{what} not found: {path} does not exist or is not a folder; {fix}")
        return path
