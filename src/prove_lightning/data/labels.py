"""Look-up tables from each dataset's label ids to the trainIds of the label space (prove_lightning/labelspace.py).

Training and testing both call :func:`get_label_mapping` so a dataset is decoded one way only.
A value outside the dataset's known ids is an error naming the file and the values, never clipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from prove_lightning.errors import DataError
from prove_lightning.labelspace import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, CLASS_ID, IGNORE_INDEX, NUM_CLASSES, colorize  # noqa: F401

_UNKNOWN = 254  # marks unknown ids inside a LUT pass; no table maps to it (trainIds are 0..18 and 255)


@dataclass(frozen=True)
class LabelMapping:
    """A dataset's raw label ids -> trainIds, with the set of ids the dataset may legitimately contain."""

    name: str
    lut: np.ndarray  # uint8, indexed by raw id
    known: np.ndarray  # bool, same length as lut

    def __call__(self, raw: np.ndarray, path: Path | str = "<array>") -> np.ndarray:
        """Map a raw id map (uint8, uint16 or int32) to trainIds; any id outside ``known`` raises DataError."""
        if raw.ndim != 2:
            raise DataError(f"{path}: label must be a single-channel id map, got shape {raw.shape}")
        if raw.dtype == np.uint8 and len(self.lut) == 256:
            if self._fast_valid(raw):
                return cv2.LUT(raw, self.lut)  # same as self.lut[raw], several times faster on 2048x1024
            # one cv2.LUT pass maps known ids and marks unknown ones with a value no table produces
            out = cv2.LUT(raw, self._checked_lut)
            if not (out == _UNKNOWN).any():
                return out
        bad = self.unknown_values(raw)
        if bad:
            raise DataError(
                f"{path}: label values {bad[:10]} are not ids of the '{self.name}' label set "
                f"(known: {self.known_summary()}); check the dataset's label_type / label_variant in "
                f"conf/dataset/ or fix the file"
            )
        return self.lut[raw.astype(np.intp, copy=False)]

    def __post_init__(self) -> None:
        bad = sorted(set(np.unique(self.lut[self.known]).tolist()) - {*range(NUM_CLASSES), IGNORE_INDEX})
        if bad:
            raise ValueError(f"label mapping '{self.name}' maps to {bad}; targets must be trainIds 0..{NUM_CLASSES - 1} or {IGNORE_INDEX}")
        checked = self.lut.copy()
        checked[~self.known] = _UNKNOWN
        object.__setattr__(self, "_checked_lut", checked)
        # known ids = 0..k (plus maybe 255): validity is then a max (and a range count), no table pass
        k = int(np.argmin(self.known)) - 1 if not self.known.all() else len(self.known) - 1
        prefix = k >= 0 and not self.known[k + 1 : 255].any()
        object.__setattr__(self, "_prefix", (k, bool(self.known[255:256].any())) if prefix and len(self.lut) == 256 else None)

    def _fast_valid(self, raw: np.ndarray) -> bool:
        """True when a uint8 map surely holds known ids only (False means: look closer, not: invalid)."""
        if self._prefix is None:
            return False
        k, has255 = self._prefix
        mx = int(raw.max())
        if mx <= k:
            return True
        return has255 and mx == 255 and (k + 1 > 254 or cv2.countNonZero(cv2.inRange(raw, k + 1, 254)) == 0)

    def unknown_values(self, raw: np.ndarray) -> list[int]:
        """Values of ``raw`` outside the known ids, sorted."""
        if raw.dtype == np.uint8:
            present = np.flatnonzero(np.bincount(raw.ravel(), minlength=256))
        elif raw.size and 0 <= int(raw.min()) and int(raw.max()) < 1 << 16:  # 16-bit ids: a bincount beats a sort
            present = np.flatnonzero(np.bincount(raw.ravel().astype(np.intp)))
        else:
            present = np.unique(raw)
        return [int(v) for v in present if v < 0 or v >= len(self.known) or not self.known[v]]

    def known_summary(self) -> str:
        """The known ids as compact ranges, e.g. '0-18, 255'."""
        ids = np.flatnonzero(self.known).tolist()
        parts: list[str] = []
        start = prev = None
        for i in [*ids, None]:
            if start is not None and i == prev + 1:
                prev = i
                continue
            if start is not None:
                parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = i
        return ", ".join(parts)

    def table(self) -> dict[int, int]:
        """{raw id: trainId} for every known id (for audit files and tests)."""
        return {int(i): int(self.lut[i]) for i in np.flatnonzero(self.known)}


def lut_from_pairs(pairs: dict[int, int], size: int, known: Sequence[int] | None = None, name: str = "") -> LabelMapping:
    """A LabelMapping sending ``pairs`` keys to their values and every other known id to 255."""
    lut = np.full(size, IGNORE_INDEX, dtype=np.uint8)
    for src, dst in pairs.items():
        lut[src] = dst
    k = np.zeros(size, dtype=bool)
    k[list(known) if known is not None else list(pairs)] = True
    if not k[list(pairs)].all():
        raise ValueError(f"label mapping '{name}': mapped ids {sorted(set(pairs) - set(np.flatnonzero(k)))} are not in known")
    return LabelMapping(name=name, lut=lut, known=k)


def trainid_identity() -> LabelMapping:
    """Labels that already hold trainIds 0..18 with 255 = ignore (ToyCity, BDD10k, Cityscapes labelTrainIds)."""
    return lut_from_pairs({i: i for i in range(NUM_CLASSES)}, 256, known=[*range(NUM_CLASSES), IGNORE_INDEX], name="trainids")


_REGISTRY: dict[str, Callable[[], LabelMapping]] = {"trainids": trainid_identity}


def register_label_mapping(name: str) -> Callable[[Callable[[], LabelMapping]], Callable[[], LabelMapping]]:
    def deco(fn: Callable[[], LabelMapping]) -> Callable[[], LabelMapping]:
        _REGISTRY[name] = fn
        return fn

    return deco


def get_label_mapping(name: str) -> LabelMapping:
    # each dataset's table lives beside its adapter and registers itself on import
    import prove_lightning.data.sources.cityscapes_labels  # noqa: F401
    import prove_lightning.data.sources.iddaw_labels  # noqa: F401
    import prove_lightning.data.sources.mapillary_labels  # noqa: F401
    import prove_lightning.data.sources.outside15k_labels  # noqa: F401

    try:
        return _REGISTRY[name]()
    except KeyError:
        raise DataError(f"unknown label mapping '{name}'; known: {sorted(_REGISTRY)}") from None
