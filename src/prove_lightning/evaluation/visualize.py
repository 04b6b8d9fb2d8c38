"""Prediction grids for TensorBoard: one row per image, columns input / ground truth / prediction (Cityscapes palette)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from prove_lightning.data.domains import DOMAINS
from prove_lightning.labelspace import colorize

GAP = 4  # pixels of white between tiles


def pick_fixed_samples(domains: Sequence[str], n: int) -> list[int]:
    """Indices of ``n`` images spread over domains (first of each domain in DOMAINS order, then second, ...).

    Deterministic in the list of domains alone, so validation shows the same images at every step.
    """
    by_domain: dict[str, list[int]] = {}
    for i, d in enumerate(domains):
        by_domain.setdefault(d, []).append(i)
    order = [d for d in DOMAINS if d in by_domain] + sorted(d for d in by_domain if d not in DOMAINS)
    picked: list[int] = []
    rank = 0
    while len(picked) < n and any(rank < len(by_domain[d]) for d in order):
        picked += [by_domain[d][rank] for d in order if rank < len(by_domain[d])][: n - len(picked)]
        rank += 1
    return picked


def prediction_row(image: np.ndarray, label: np.ndarray, pred: np.ndarray, height: int = 192) -> np.ndarray:
    """(H, W, 3) image, (h, w) label and prediction -> one RGB strip [input | ground truth | prediction] of ``height``.

    The image is resized to the label's size first (a test pipeline may resize the input; labels stay native).
    """
    h, w = label.shape
    if image.shape[:2] != (h, w):
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    scale = height / h
    tw = max(int(round(w * scale)), 1)
    tiles = [
        cv2.resize(image, (tw, height), interpolation=cv2.INTER_AREA),
        cv2.resize(colorize(label), (tw, height), interpolation=cv2.INTER_NEAREST),
        cv2.resize(colorize(pred), (tw, height), interpolation=cv2.INTER_NEAREST),
    ]
    gap = np.full((height, GAP, 3), 255, dtype=np.uint8)
    return np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1)


def prediction_grid(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Stack strips from :func:`prediction_row` vertically (right-padded to the widest), as an (H, W, 3) uint8 image."""
    if not rows:
        raise ValueError("prediction_grid needs at least one row")
    width = max(r.shape[1] for r in rows)
    out = []
    for i, r in enumerate(rows):
        if r.shape[1] < width:
            r = np.concatenate([r, np.full((r.shape[0], width - r.shape[1], 3), 255, dtype=np.uint8)], axis=1)
        if i:
            out.append(np.full((GAP, width, 3), 255, dtype=np.uint8))
        out.append(r)
    return np.concatenate(out, axis=0)

def log_image(loggers: Iterable[Any], tag: str, image: Any, step: int) -> None:
    """An (H, W, 3) uint8 image to each logger that takes images: TensorBoard, MLflow, W&B (CSV takes none)."""
    for lg in loggers:
        kind = type(lg).__name__
        if kind == "TensorBoardLogger":
            lg.experiment.add_image(tag, image, step, dataformats="HWC")
        elif kind == "MLFlowLogger":
            lg.experiment.log_image(lg.run_id, image, key=tag.replace("/", "_"), step=step)
        elif kind == "WandbLogger":
            lg.log_image(key=tag, images=[image], step=step)
