"""One label module: Cityscapes' 19 train classes, their palette, and look-up tables from each dataset's ids.

Training and testing both call :func:`get_label_mapping` so a dataset is decoded one way only.
A value outside the dataset's known ids is an error naming the file and the values, never clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from prove_lightning.errors import DataError

IGNORE_INDEX = 255

CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic_light", "traffic_sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)
NUM_CLASSES = len(CITYSCAPES_CLASSES)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CITYSCAPES_CLASSES)}

CITYSCAPES_PALETTE: np.ndarray = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
        (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
        (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
        (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)


def colorize(label: np.ndarray) -> np.ndarray:
    """trainId map (H, W) -> RGB image in the Cityscapes palette; ignore is black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:NUM_CLASSES] = CITYSCAPES_PALETTE
    return lut[label.astype(np.uint8)]


@dataclass(frozen=True)
class LabelMapping:
    """A dataset's raw label ids -> trainIds, with the set of ids the dataset may legitimately contain."""

    name: str
    lut: np.ndarray  # uint8, indexed by raw id
    known: np.ndarray  # bool, same length as lut

    def __call__(self, raw: np.ndarray, path: Path | str = "<array>") -> np.ndarray:
        if raw.ndim != 2:
            raise DataError(f"{path}: label must be a single-channel id map, got shape {raw.shape}")
        if raw.dtype != np.uint8 and raw.size and int(raw.max()) >= len(self.lut):
            bad = np.unique(raw[raw >= len(self.lut)])[:10].tolist()
            raise DataError(
                f"{path}: label values {bad} are not ids of the '{self.name}' label set "
                f"(known ids < {len(self.lut)}); check the dataset's label variant in conf/dataset/"
            )
        flat = raw if raw.dtype == np.uint8 else raw.astype(np.intp)
        if not self.known.all():
            present = np.unique(flat) if raw.dtype != np.uint8 else np.flatnonzero(np.bincount(flat.ravel(), minlength=256))
            bad_ids = [int(v) for v in present if v >= len(self.known) or not self.known[v]]
            if bad_ids:
                raise DataError(
                    f"{path}: label values {bad_ids[:10]} are not ids of the '{self.name}' label set; "
                    f"check the dataset's label variant in conf/dataset/ or fix the file"
                )
        return self.lut[flat]


def _lut_from_pairs(pairs: dict[int, int], size: int, known: list[int] | None = None, name: str = "") -> LabelMapping:
    lut = np.full(size, IGNORE_INDEX, dtype=np.uint8)
    for src, dst in pairs.items():
        lut[src] = dst
    k = np.zeros(size, dtype=bool)
    k[list(known) if known is not None else list(pairs)] = True
    return LabelMapping(name=name, lut=lut, known=k)


def trainid_identity() -> LabelMapping:
    """Labels that already hold trainIds 0..18 with 255 = ignore (ToyCity, BDD10k, Cityscapes labelTrainIds)."""
    return _lut_from_pairs({i: i for i in range(NUM_CLASSES)}, 256, known=[*range(NUM_CLASSES), IGNORE_INDEX], name="trainids")


_REGISTRY: dict[str, Callable[[], LabelMapping]] = {"trainids": trainid_identity}


def register_label_mapping(name: str) -> Callable[[Callable[[], LabelMapping]], Callable[[], LabelMapping]]:
    def deco(fn: Callable[[], LabelMapping]) -> Callable[[], LabelMapping]:
        _REGISTRY[name] = fn
        return fn

    return deco


def get_label_mapping(name: str) -> LabelMapping:
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise DataError(f"unknown label mapping '{name}'; known: {sorted(_REGISTRY)}") from None
