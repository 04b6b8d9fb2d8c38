"""Train and test pipelines on numpy arrays, every random choice drawn from an explicit per-sample generator.

The train pipeline is MMSeg's recipe as the old pipeline ran it (RandomResize of (2048, 1024) by [0.5, 2.0],
RandomCrop with cat_max_ratio 0.75, Pad 0 / 255, RandomFlip 0.5, PhotoMetricDistortion), but it picks the
crop window first and resamples only that window, so a 2048x1024 sample costs about 1.08x its decode
(benchmarks/bench_train_pipeline.py). It draws the same random numbers as the literal recipe in
tests/transforms_reference.py and gives the same sample (tests/test_datasets_transforms.py).
Explicit generators make a sample a pure function of (seed, step, slot): resume and worker count do not
change what the model sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np

from prove_lightning.data.labels import IGNORE_INDEX

cv2.setNumThreads(1)


def _affine_lut(alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """uint8 -> uint8 table of MMSeg's ``convert``: float32 v * alpha + beta, clipped to [0, 255], truncated."""
    return np.clip(np.arange(256, dtype=np.float32) * np.float32(alpha) + np.float32(beta), 0, 255).astype(np.uint8)


@dataclass
class PhotoMetricDistortion:
    """MMSeg's PhotoMetricDistortion, value for value.

    Brightness (p=0.5, delta in [-32, 32]); contrast (p=0.5, alpha in [0.5, 1.5]) either first (mode 1) or last
    (mode 0); saturation (p=0.5, S * [0.5, 1.5]); hue (p=0.5, H + an integer in [-18, 17], numpy's exclusive
    upper bound, mod 180). Each step clips to [0, 255] and truncates to uint8 as MMSeg does; saturation and
    hue are separate HSV round trips. Every affine step is a 256-entry table (cv2.LUT): the same numbers as
    the float32 arithmetic, several times faster.
    """

    brightness_delta: int = 32
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: int = 18

    def _contrast_lut(self, rng: np.random.Generator) -> np.ndarray | None:
        return _affine_lut(alpha=rng.uniform(*self.contrast_range)) if rng.integers(2) else None

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # same draws in the same order as MMSeg; consecutive per-value steps are composed into one table
        # (exact: each step maps uint8 to uint8) and the HSV steps touch their channel through a 3-channel
        # table in place, so every step is one pass over the crop
        lut = _affine_lut(beta=rng.uniform(-self.brightness_delta, self.brightness_delta)) if rng.integers(2) else None
        mode = rng.integers(2)
        if mode == 1:
            c = self._contrast_lut(rng)
            if c is not None:
                lut = c if lut is None else c[lut]
        if lut is not None:
            img = cv2.LUT(img, lut)
        if rng.integers(2):  # saturation
            img = _hsv_step(img, 1, _affine_lut(alpha=rng.uniform(*self.saturation_range)))
        if rng.integers(2):  # hue
            shift = int(rng.integers(-self.hue_delta, self.hue_delta))
            img = _hsv_step(img, 0, ((np.arange(256) + shift) % 180).astype(np.uint8))
        if mode == 0:
            c = self._contrast_lut(rng)
            if c is not None:
                img = cv2.LUT(img, c)
        return img


_IDENTITY = np.arange(256, dtype=np.uint8)


def _hsv_step(img: np.ndarray, channel: int, table: np.ndarray) -> np.ndarray:
    """RGB -> HSV, ``table`` on one HSV channel, HSV -> RGB (MMSeg's round trip), in place on the HSV copy."""
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    lut3 = np.stack([table if c == channel else _IDENTITY for c in range(3)], axis=-1).reshape(1, 256, 3)
    cv2.LUT(hsv, lut3, dst=hsv)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB, dst=hsv)


@dataclass
class TrainPipeline:
    """Random resize (keep ratio) x random crop (cat_max_ratio) x pad x flip x photometric, in one resampling.

    Same draws and semantics as MMSeg's RandomResize -> RandomCrop -> Pad -> RandomFlip -> PhotoMetricDistortion:
    the target scale is ``int(scale * ratio)``, ratio uniform in ``ratio_range``; the resized size is
    ``int(side * f + 0.5)`` with f = min(long / long side, short / short side); a crop offset is drawn, and
    while the crop's most frequent class covers >= cat_max_ratio of its non-ignore pixels, or it holds fewer
    than 2 classes, a new offset is drawn (at most ``crop_tries`` checks; the last draw is then used
    unchecked); pad to the crop size with 0 (image) / 255 (label); flip with p=0.5. Only the crop window is
    resampled (cv2.resize's pixel-centre mapping; nearest for labels), so the output equals
    resize-then-crop (labels exactly, images to bilinear rounding: tests/transforms_reference.py, tests).
    """

    scale: tuple[int, int] = (2048, 1024)  # MMSeg's (w, h); with keep_ratio only (long, short) matters
    ratio_range: tuple[float, float] = (0.5, 2.0)
    crop_size: tuple[int, int] = (512, 512)  # (h, w)
    cat_max_ratio: float = 0.75
    crop_tries: int = 10
    flip_prob: float = 0.5
    photometric: bool = True
    img_pad_value: int = 0
    ignore_index: int = IGNORE_INDEX
    #: image window by cv2.resize of a source region whose resized origin is within this many pixels of MMSeg's
    #: grid (3x faster than the affine warp); else, and with 0, the exact affine warp (see _resize_window)
    subpixel_tolerance: float = 1 / 64
    _pmd: PhotoMetricDistortion = field(default_factory=PhotoMetricDistortion, repr=False)

    def describe(self) -> list[str]:
        steps = [
            f"RandomResize(scale={tuple(self.scale)}, ratio_range={tuple(self.ratio_range)}, keep_ratio=True)",
            f"RandomCrop(size={tuple(self.crop_size)}, cat_max_ratio={self.cat_max_ratio}, tries={self.crop_tries})",
            f"Pad(size={tuple(self.crop_size)}, img={self.img_pad_value}, label={self.ignore_index})",
            f"RandomFlip(p={self.flip_prob})",
        ]
        if self.photometric:
            steps.append("PhotoMetricDistortion(brightness 32, contrast 0.5-1.5, saturation 0.5-1.5, hue 18)")
        steps.append(f"crop-first: only the crop window is resampled (window within {self.subpixel_tolerance:.4g} px of the whole-image resize)")
        return steps

    # --- the random choices, shared with the literal reference implementation
    def resized_size(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int]:
        ratio = rng.uniform(*self.ratio_range)
        target = (int(self.scale[0] * ratio), int(self.scale[1] * ratio))
        f = min(max(target) / max(h, w), min(target) / min(h, w))
        return int(h * f + 0.5), int(w * f + 0.5)

    def crop_offset(self, rh: int, rw: int, rng: np.random.Generator) -> tuple[int, int]:
        ch, cw = self.crop_size
        y0 = int(rng.integers(0, max(rh - ch, 0) + 1))
        x0 = int(rng.integers(0, max(rw - cw, 0) + 1))
        return y0, x0

    def crop_ok(self, lab_crop: np.ndarray) -> bool:
        """MMSeg's test: >= 2 non-ignore classes and the largest below cat_max_ratio of non-ignore pixels."""
        counts = cv2.calcHist([lab_crop], [0], None, [256], [0, 256]).ravel()  # a bincount, ~2x faster
        counts[self.ignore_index] = 0
        counts = counts[counts > 0]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def finish(self, img_c: np.ndarray, lab_c: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Flip and photometric distortion of the padded crop."""
        if rng.random() < self.flip_prob:
            img_c, lab_c = cv2.flip(img_c, 1), cv2.flip(lab_c, 1)
        if self.photometric:
            img_c = self._pmd(img_c, rng)
        return img_c, lab_c

    #: SegDataset hands the decoder's BGR image (``bgr=True``): resampling, padding and flipping treat channels
    #: alike, so converting the crop instead of the whole image gives the same pixels for a quarter of the work
    takes_bgr = True

    def __call__(self, img: np.ndarray, label: np.ndarray, rng: np.random.Generator, bgr: bool = False) -> tuple[np.ndarray, np.ndarray]:
        h, w = label.shape
        rh, rw = self.resized_size(h, w, rng)
        fy, fx = rh / h, rw / w
        ch, cw = self.crop_size
        y0, x0 = self.crop_offset(rh, rw, rng)
        lab_c = None
        if self.cat_max_ratio < 1.0:
            for _ in range(self.crop_tries):
                lab_c = self._warp(label, fx, fy, x0, y0, ch, cw, cv2.INTER_NEAREST, self.ignore_index, rh, rw)
                if self.crop_ok(lab_c):
                    break
                y0, x0 = self.crop_offset(rh, rw, rng)
                lab_c = None
        if lab_c is None:
            lab_c = self._warp(label, fx, fy, x0, y0, ch, cw, cv2.INTER_NEAREST, self.ignore_index, rh, rw)
        img_c = self._warp(img, fx, fy, x0, y0, ch, cw, cv2.INTER_LINEAR, self.img_pad_value, rh, rw, self.subpixel_tolerance)
        if bgr:
            img_c = cv2.cvtColor(img_c, cv2.COLOR_BGR2RGB, dst=img_c if img_c.flags.c_contiguous and img_c.base is None else None)
        return self.finish(img_c, lab_c, rng)

    @staticmethod
    def _warp(src: np.ndarray, fx: float, fy: float, x0: int, y0: int, ch: int, cw: int, interp: int, fill: int, rh: int, rw: int, tol: float = 0.0) -> np.ndarray:
        """Crop [y0:y0+ch, x0:x0+cw] of ``src`` resized to (rh, rw), padding past the resized image with ``fill``."""
        vh, vw = min(ch, rh - y0), min(cw, rw - x0)  # valid part inside the resized image
        if interp == cv2.INTER_NEAREST:
            # exactly cv2.resize's nearest: src index = floor(dst index * (src size / dst size))
            rows = np.minimum(((y0 + np.arange(vh)) * (1.0 / fy)).astype(np.intp), src.shape[0] - 1)
            cols = np.minimum(((x0 + np.arange(vw)) * (1.0 / fx)).astype(np.intp), src.shape[1] - 1)
            valid = src.take(rows, axis=0).take(cols, axis=1)
        else:
            valid = None
            if tol > 0:
                valid = _resize_window(src, fx, fy, x0, y0, vh, vw, tol)
            if valid is None:
                valid = _affine_window(src, fx, fy, x0, y0, vh, vw)
        if (vh, vw) == (ch, cw):
            return valid
        out = np.full((ch, cw) + src.shape[2:], fill, dtype=src.dtype)
        out[:vh, :vw] = valid
        return out


def _aligned_origin(d0: int, n: int, f: float, size: int, tol: float, search: int = 128) -> tuple[int, int, int] | None:
    """Along one axis: a source start s whose resized position s*f is within ``tol`` of an integer.

    Returns (s, source end, offset of d0 inside the resized region) or None when no start within ``search``
    pixels of the window qualifies. s = 0 always qualifies, so windows near the origin never need the warp.
    """
    hi = int(np.floor(d0 / f)) - 2  # >= 2 source pixels before the first bilinear tap
    if hi <= 0:
        s = 0
    else:
        cand = np.arange(hi, max(hi - search, 0) - 1, -1)  # nearest the window first
        d = cand * f
        ok = np.flatnonzero(np.abs(d - np.round(d)) <= tol)
        if not len(ok):
            return None
        s = int(cand[ok[0]])
    end = min(int(np.ceil((d0 + n) / f)) + int(np.ceil(1 / f)) + 1, size)
    return s, end, d0 - int(round(s * f))


def _resize_window(src: np.ndarray, fx: float, fy: float, x0: int, y0: int, vh: int, vw: int, tol: float) -> np.ndarray | None:
    """The (vh, vw) window at (y0, x0) of src resized by (fy, fx), by cv2.resize of a source region only.

    cv2.resize with explicit fx, fy maps local pixel x to source (x + 0.5) / fx - 0.5, so a region starting at
    source s reproduces the whole-image resize exactly when s * fx is an integer, and within ``tol`` resized
    pixels of it otherwise (warpAffine itself quantises positions to 1/32 pixel).
    """
    ax, ay = _aligned_origin(x0, vw, fx, src.shape[1], tol), _aligned_origin(y0, vh, fy, src.shape[0], tol)
    if ax is None or ay is None:
        return None
    (sx, ex, ox), (sy, ey, oy) = ax, ay
    r = cv2.resize(src[sy:ey, sx:ex], (0, 0), fx=fx, fy=fy, interpolation=cv2.INTER_LINEAR)
    if r.shape[0] < oy + vh or r.shape[1] < ox + vw:
        return None
    return r[oy : oy + vh, ox : ox + vw].reshape((vh, vw) + src.shape[2:])


def _affine_window(src: np.ndarray, fx: float, fy: float, x0: int, y0: int, vh: int, vw: int) -> np.ndarray:
    """The same window by one affine warp of the source region that maps into it (exact mapping)."""
    sy0 = max(int(np.floor(y0 / fy)) - 1, 0)
    sx0 = max(int(np.floor(x0 / fx)) - 1, 0)
    sy1 = min(int(np.ceil((y0 + vh) / fy)) + 2, src.shape[0])
    sx1 = min(int(np.ceil((x0 + vw) / fx)) + 2, src.shape[1])
    roi = src[sy0:sy1, sx0:sx1]
    # dst (x, y) -> src ((x + x0 + 0.5) / fx - 0.5 - sx0, ...): cv2.resize's pixel-centre convention
    m = np.array([[1 / fx, 0, (x0 + 0.5) / fx - 0.5 - sx0], [0, 1 / fy, (y0 + 0.5) / fy - 0.5 - sy0]], dtype=np.float64)
    warped = cv2.warpAffine(roi, m, (vw, vh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape((vh, vw) + src.shape[2:])


@dataclass
class TestPipeline:
    """Native resolution by default; optional keep-ratio resize of the image only (labels stay native)."""

    resize: Sequence[int] | None = None  # (long, short) or None

    def describe(self) -> list[str]:
        return ["native resolution" if not self.resize else f"Resize(image to {tuple(self.resize)}, keep_ratio=True; label native)"]

    #: SegDataset may hand the decoder's BGR image (``bgr=True``): converted here, before anything else
    takes_bgr = True

    def __call__(self, img: np.ndarray, label: np.ndarray, rng: np.random.Generator | None = None, bgr: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if bgr:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
        if self.resize:
            h, w = img.shape[:2]
            f = min(max(self.resize) / max(h, w), min(self.resize) / min(h, w))
            img = cv2.resize(img, (int(w * f + 0.5), int(h * f + 0.5)), interpolation=cv2.INTER_LINEAR)
        return img, label


def build_pipeline(cfg: dict[str, Any] | None, train: bool) -> TrainPipeline | TestPipeline:
    cfg = dict(cfg or {})
    if train:
        for k in ("scale", "ratio_range", "crop_size"):
            if k in cfg:
                cfg[k] = tuple(cfg[k])
        return TrainPipeline(**cfg)
    return TestPipeline(**cfg)
