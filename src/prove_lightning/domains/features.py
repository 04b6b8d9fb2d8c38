"""Image statistics the rules and the classifier tagger read, computed on a small copy of the image.

Named statistics (all in [0, 1] unless said): ``luminance`` (mean Rec.601 luma), ``contrast`` (its std),
``saturation`` (mean HSV saturation), ``warmth`` (mean red minus mean blue, in [-1, 1]: dawn/dusk casts are
warm), ``sky_luminance`` / ``sky_saturation`` (the top third, where the sky usually is), ``dark_channel``
(mean of the per-pixel min over RGB: haze lifts it, He et al. 2009), ``white_ground`` (fraction of bright,
unsaturated pixels in the bottom half: snow cover), ``bright_spots`` (fraction of very bright pixels: lights at
night), ``fine_detail`` (mean absolute vertical-neighbour difference: rain streaks and snowflakes raise it, fog
lowers it). The classifier also sees coarse colour histograms (:func:`feature_vector`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (128, 64)  # (width, height) every image is reduced to: statistics of the scene, not of its resolution
NAMES = (
    "luminance", "contrast", "saturation", "warmth", "sky_luminance", "sky_saturation", "dark_channel",
    "white_ground", "bright_spots", "fine_detail",
)  # fmt: skip
HIST_BINS = 6


def load_small(path: str | Path) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1] at SIZE (decoding with PIL's draft mode where the format allows it)."""
    with Image.open(path) as im:
        im.draft("RGB", (SIZE[0] * 2, SIZE[1] * 2))
        return np.asarray(im.convert("RGB").resize(SIZE, Image.BILINEAR), dtype=np.float32) / 255.0


def statistics(rgb: np.ndarray) -> dict[str, float]:
    """The named statistics of one (H, W, 3) float RGB image in [0, 1]."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    h = rgb.shape[0]
    top, bottom = slice(0, h // 3), slice(h // 2, h)
    return {
        "luminance": float(y.mean()),
        "contrast": float(y.std()),
        "saturation": float(sat.mean()),
        "warmth": float(r.mean() - b.mean()),
        "sky_luminance": float(y[top].mean()),
        "sky_saturation": float(sat[top].mean()),
        "dark_channel": float(mn.mean()),
        "white_ground": float(((y[bottom] > 0.75) & (sat[bottom] < 0.15)).mean()),
        "bright_spots": float((y > 0.8).mean()),
        "fine_detail": float(np.abs(np.diff(y, axis=0)).mean()),
    }


def feature_vector(rgb: np.ndarray) -> np.ndarray:
    """The classifier's input: the named statistics plus HSV-free colour histograms of the top and bottom halves."""
    stats = statistics(rgb)
    h = rgb.shape[0]
    hists = []
    for part in (rgb[: h // 2], rgb[h // 2 :]):
        for c in range(3):
            hist, _ = np.histogram(part[..., c], bins=HIST_BINS, range=(0.0, 1.0))
            hists.append(hist / max(hist.sum(), 1))
    return np.concatenate([np.array([stats[n] for n in NAMES], np.float32), np.concatenate(hists).astype(np.float32)])
