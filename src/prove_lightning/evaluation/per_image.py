"""Per-image confusion matrices of one test, kept beside its JSON: ``test/step_N/<test set>.npz``.

Why: a dataset-level mIoU is not a mean over images, so any statistic over test images (the paired bootstrap
of findings/bootstrap.py) needs each image's confusion matrix; keeping them avoids re-running inference.
Arrays: ``ids`` (image paths), ``domains``, ``cm`` (n, C, C) int64 (rows = ground truth, columns = prediction),
``classes``. Written compressed (most entries are zero) and atomically. Reading needs numpy only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from prove_lightning.io import atomic_path


def per_image_path(test_json: str | Path) -> Path:
    return Path(test_json).with_suffix(".npz")


def write_per_image(path: str | Path, ids: Sequence[str], domains: Sequence[str], cm: np.ndarray, classes: Sequence[str]) -> Path:
    """Write the per-image matrices of one test set; returns the path."""
    path = Path(path)
    cm = np.asarray(cm, dtype=np.int64)
    if cm.ndim != 3 or len(ids) != cm.shape[0] or len(domains) != cm.shape[0]:
        raise ValueError(f"per-image matrices {cm.shape} do not match {len(ids)} ids / {len(domains)} domains")
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, ids=np.asarray(ids, dtype=str), domains=np.asarray(domains, dtype=str), cm=cm, classes=np.asarray(classes, dtype=str))
    return path


def read_per_image(path: str | Path) -> dict[str, np.ndarray] | None:
    """The arrays of one .npz, or None when the test kept none (older runs, rows from elsewhere)."""
    path = Path(path)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
