"""A map-style dataset over SampleRecords; items are (index, sample_seed) pairs from the step sampler."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from prove_lightning.data.labels import LabelMapping
from prove_lightning.data.records import SampleRecord
from prove_lightning.errors import DataError
from prove_lightning.images import read_image_native, read_label


class SegDataset(Dataset):
    def __init__(
        self,
        records: Sequence[SampleRecord],
        label_mappings: dict[str, LabelMapping],
        pipeline: Callable[..., tuple[np.ndarray, np.ndarray]],
        sample_hooks: Sequence[Callable[[dict[str, Any], np.random.Generator], dict[str, Any]]] = (),
    ) -> None:
        self.records = list(records)
        self.label_mappings = label_mappings
        self.pipeline = pipeline
        self.sample_hooks = list(sample_hooks)

    def __len__(self) -> int:
        return len(self.records)

    def describe(self, generated: bool = False) -> list[str]:
        """The steps after loading that a real (or generated) sample goes through, as run: the pipeline, then the sample hooks."""
        steps = ["LabelMapping(dataset ids -> trainIds)", *self.pipeline.describe()]
        for hook in self.sample_hooks:
            if generated or "real" in getattr(hook, "pools", ("real", "generated")):
                steps.append(hook.describe() if hasattr(hook, "describe") else repr(hook))
        return steps

    def load(self, rec: SampleRecord) -> tuple[np.ndarray, np.ndarray, bool]:
        """Image in its decoder's channel order, trainId label, and whether the image is BGR (else RGB)."""
        img, is_bgr = read_image_native(rec.image)
        raw = read_label(rec.label)
        if raw.shape != img.shape[:2]:
            raise DataError(
                f"{rec.label}: label size {raw.shape[1]}x{raw.shape[0]} differs from image {rec.image} "
                f"size {img.shape[1]}x{img.shape[0]}; regenerate the label or remove the pair"
            )
        return img, self.label_mappings[rec.dataset](raw, rec.label), is_bgr

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = (item, index_seed(item)) if isinstance(item, (int, np.integer)) else item
        rec = self.records[int(index)]
        rng = np.random.default_rng(seed)
        img, label, is_bgr = self.load(rec)
        if is_bgr and getattr(self.pipeline, "takes_bgr", False):  # the pipeline converts its (smaller) crop
            img, label = self.pipeline(img, label, rng, bgr=True)
        else:
            if is_bgr:
                cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
            img, label = self.pipeline(img, label, rng)
        sample = {
            "image": img,
            "label": label,
            "domain": rec.domain,
            "dataset": rec.dataset,
            "generated": rec.generated,
            "path": str(rec.image),
            "index": int(index),
        }
        sample["augment"] = ""  # what the std_* ops applied to this sample (collates to a list per batch)
        for hook in self.sample_hooks:
            sample = hook(sample, rng)
        sample["image"] = torch.from_numpy(chw(sample["image"]))
        sample["label"] = torch.from_numpy(compact_label(sample["label"]))
        return sample


def chw(img: np.ndarray) -> np.ndarray:
    """(H, W, C) -> contiguous (C, H, W): cv2.split's planes copied into one array (0.3 ms for 512x1024x3, where
    torch's permute().contiguous() takes 2-8 ms and waits for a second thread on a shared machine)."""
    out = np.empty((img.shape[2], *img.shape[:2]), dtype=img.dtype)
    for c, plane in enumerate(cv2.split(np.ascontiguousarray(img))):
        out[c] = plane
    return out


def compact_label(label: np.ndarray) -> np.ndarray:
    """trainIds stay uint8 end to end (1 byte per pixel to collate, move and count; losses widen on the device).

    Label mappings give uint8 (ids 0..254 and ignore 255); anything wider is kept as int64 so no value is lost.
    """
    label = np.ascontiguousarray(label)
    return label if label.dtype == np.uint8 else label.astype(np.int64)


def index_seed(index: int) -> int:
    return int(np.random.SeedSequence([int(index)]).generate_state(1)[0])
