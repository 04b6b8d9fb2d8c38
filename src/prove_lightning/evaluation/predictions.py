"""Saved predictions: PNGs in the id space and file names an external evaluation expects.

Both come from the test dataset's config, never from its name:
- ``prediction_format``: a key of :data:`PREDICTION_FORMATS` (``trainids``: 0..18 as stored;
  ``cityscapes_labelids``: the inverse of Cityscapes' labelId -> trainId table, for the official
  Cityscapes evaluation and the ACDC benchmark server);
- ``prediction_name``: a pattern with ``{stem}``, ``{name}``, ``{parent}``, ``{domain}``, ``{dataset}``
  filled from each image path, e.g. ``{stem}.png`` keeps ``frankfurt_000000_000294_leftImg8bit`` (matches the
  official script's ``<city>_<seq>_<frame>*.png`` search) and ``GOPR0475_frame_000041_rgb_anon`` (ACDC).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np
import torch

# the one Cityscapes labelId -> trainId table (data/sources/cityscapes_labels.py); saved predictions use its inverse
from prove_lightning.data.sources.cityscapes_labels import CITYSCAPES_LABELID_TO_TRAINID
from prove_lightning.labelspace import NUM_CLASSES
from prove_lightning.errors import ConfigError, DataError
from prove_lightning.images import write_png


PredictionFormat = Callable[[np.ndarray], np.ndarray]
PREDICTION_FORMATS: dict[str, PredictionFormat] = {}


def register_prediction_format(name: str) -> Callable[[PredictionFormat], PredictionFormat]:
    def deco(fn: PredictionFormat) -> PredictionFormat:
        PREDICTION_FORMATS[name] = fn
        return fn

    return deco


def inverse_lut(forward: dict[int, int], num_classes: int = NUM_CLASSES) -> np.ndarray:
    """trainId -> raw id table (uint8, 256 entries) from a raw id -> trainId table that is one-to-one on the classes."""
    lut = np.zeros(256, dtype=np.uint8)
    seen: dict[int, int] = {}
    for raw, train in forward.items():
        if train in seen:
            raise ValueError(f"trainId {train} comes from raw ids {seen[train]} and {raw}; the mapping has no inverse")
        seen[train] = raw
        lut[train] = raw
    missing = sorted(set(range(num_classes)) - set(seen))
    if missing:
        raise ValueError(f"trainIds {missing} have no raw id; the mapping has no inverse")
    return lut


@register_prediction_format("trainids")
def _trainids(pred: np.ndarray) -> np.ndarray:
    return pred.astype(np.uint8)


_CS_INVERSE = inverse_lut(CITYSCAPES_LABELID_TO_TRAINID)


@register_prediction_format("cityscapes_labelids")
def _cityscapes_labelids(pred: np.ndarray) -> np.ndarray:
    return _CS_INVERSE[pred.astype(np.uint8)]


def get_prediction_format(name: str) -> PredictionFormat:
    try:
        return PREDICTION_FORMATS[name]
    except KeyError:
        raise ConfigError(f"dataset.prediction_format='{name}' is unknown; use one of {sorted(PREDICTION_FORMATS)}") from None


def prediction_relpath(pattern: str, image: str | Path, domain: str, dataset: str) -> PurePosixPath:
    """The file name of one prediction from ``dataset.prediction_name``; stays inside the output folder."""
    p = Path(image)
    try:
        rel = pattern.format(stem=p.stem, name=p.name, parent=p.parent.name, domain=domain, dataset=dataset)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(
            f"dataset.prediction_name='{pattern}' is not a valid pattern ({e}); use placeholders "
            "{stem} {name} {parent} {domain} {dataset}"
        ) from None
    out = PurePosixPath(rel)
    if out.is_absolute() or ".." in out.parts or out.suffix.lower() != ".png":
        raise ConfigError(f"dataset.prediction_name='{pattern}' gives '{rel}': it must be a relative path ending in .png")
    return out


class PredictionWriter:
    """Test-time hook: writes each prediction PNG under ``{root}/{test_dataset}/pred/`` (atomic writes)."""

    def __init__(self, root: str | Path, test_sets: list[Any]) -> None:
        self.root = Path(root)
        self.test_sets = test_sets
        self.formats = [get_prediction_format(t.prediction_format) for t in test_sets]
        self.written: list[dict[str, str]] = [{} for _ in test_sets]

    def folder(self, t: int) -> Path:
        return self.root / self.test_sets[t].name / "pred"

    def __call__(self, pred: torch.Tensor, batch: dict[str, Any], dataloader_idx: int) -> None:
        ts = self.test_sets[dataloader_idx]
        fmt = self.formats[dataloader_idx]
        seen = self.written[dataloader_idx]
        arrays = pred.to(torch.uint8).cpu().numpy()
        for i, image in enumerate(batch["path"]):
            rel = str(prediction_relpath(ts.prediction_name, image, batch["domain"][i], ts.name))
            if rel in seen and seen[rel] != image:
                raise DataError(
                    f"predictions of {seen[rel]} and {image} would both be written to {rel}; make "
                    f"dataset.prediction_name='{ts.prediction_name}' unique (e.g. add {{domain}}/ or {{parent}}/)"
                )
            seen[rel] = image
            write_png(self.folder(dataloader_idx) / rel, fmt(arrays[i]))

    def summary(self, t: int) -> dict[str, Any]:
        ts = self.test_sets[t]
        return {"dir": str(self.folder(t)), "format": ts.prediction_format, "name": ts.prediction_name, "count": len(self.written[t])}
