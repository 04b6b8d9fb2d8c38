"""Train and test pipelines on numpy arrays, every random choice drawn from an explicit per-sample generator.

The train pipeline is MMSeg's recipe (random resize of a reference scale, random crop with cat_max_ratio,
pad with 255, flip, photometric distortion), but it picks the crop window first and resamples only that
window with one affine warp, so a 2048x1024 image costs about as much as its decode.
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


@dataclass
class PhotoMetricDistortion:
    """MMSeg's PhotoMetricDistortion: brightness, contrast (first or last), saturation, hue, each with p=0.5."""

    brightness_delta: int = 32
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: int = 18

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = img.astype(np.float32)
        if rng.random() < 0.5:
            out += rng.uniform(-self.brightness_delta, self.brightness_delta)
        contrast_first = rng.random() < 0.5
        if contrast_first and rng.random() < 0.5:
            out *= rng.uniform(*self.contrast_range)
        do_sat, do_hue = rng.random() < 0.5, rng.random() < 0.5
        sat = rng.uniform(*self.saturation_range) if do_sat else 1.0
        hue = rng.integers(-self.hue_delta, self.hue_delta + 1) if do_hue else 0
        if do_sat or do_hue:
            hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
            hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
            hsv[..., 0] = (hsv[..., 0] + hue) % 180
            out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
        if not contrast_first and rng.random() < 0.5:
            out *= rng.uniform(*self.contrast_range)
        return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class TrainPipeline:
    """Random resize (keep ratio) x random crop (cat_max_ratio) x pad x flip x photometric, in one resampling."""

    scale: tuple[int, int] = (2048, 1024)  # (long, short) reference, as MMSeg's (w, h)
    ratio_range: tuple[float, float] = (0.5, 2.0)
    crop_size: tuple[int, int] = (512, 512)  # (h, w)
    cat_max_ratio: float = 0.75
    crop_tries: int = 10
    flip_prob: float = 0.5
    photometric: bool = True
    img_pad_value: int = 0
    ignore_index: int = IGNORE_INDEX
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
        return steps

    def _scale_factor(self, h: int, w: int, ratio: float) -> float:
        long_t, short_t = max(self.scale) * ratio, min(self.scale) * ratio
        return min(long_t / max(h, w), short_t / min(h, w))

    def __call__(self, img: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, w = label.shape
        f = self._scale_factor(h, w, rng.uniform(*self.ratio_range))
        rh, rw = int(h * f + 0.5), int(w * f + 0.5)
        fy, fx = rh / h, rw / w
        ch, cw = self.crop_size
        y0 = x0 = 0
        for _ in range(max(self.crop_tries, 1)):
            y0 = int(rng.integers(0, max(rh - ch, 0) + 1))
            x0 = int(rng.integers(0, max(rw - cw, 0) + 1))
            if self.cat_max_ratio >= 1.0:
                break
            lab_crop = self._warp(label, fx, fy, x0, y0, ch, cw, cv2.INTER_NEAREST, self.ignore_index, rh, rw)
            counts = np.bincount(lab_crop.ravel(), minlength=256)[: self.ignore_index]
            if (counts > 0).sum() > 1 and counts.max() / max(counts.sum(), 1) < self.cat_max_ratio:
                break
        img_c = self._warp(img, fx, fy, x0, y0, ch, cw, cv2.INTER_LINEAR, self.img_pad_value, rh, rw)
        lab_c = self._warp(label, fx, fy, x0, y0, ch, cw, cv2.INTER_NEAREST, self.ignore_index, rh, rw)
        if rng.random() < self.flip_prob:
            img_c, lab_c = img_c[:, ::-1], lab_c[:, ::-1]
        if self.photometric:
            img_c = self._pmd(np.ascontiguousarray(img_c), rng)
        return np.ascontiguousarray(img_c), np.ascontiguousarray(lab_c)

    @staticmethod
    def _warp(src: np.ndarray, fx: float, fy: float, x0: int, y0: int, ch: int, cw: int, interp: int, fill: int, rh: int, rw: int) -> np.ndarray:
        """Crop [y0:y0+ch, x0:x0+cw] of ``src`` resized to (rh, rw), padding past the resized image with ``fill``."""
        vh, vw = min(ch, rh - y0), min(cw, rw - x0)  # valid part inside the resized image
        out = np.full((ch, cw) + src.shape[2:], fill, dtype=src.dtype)
        if interp == cv2.INTER_NEAREST:
            # exact cv2.resize nearest: src index = floor(dst index / f)
            rows = np.minimum(((y0 + np.arange(vh)) * (1.0 / fy)).astype(np.intp), src.shape[0] - 1)
            cols = np.minimum(((x0 + np.arange(vw)) * (1.0 / fx)).astype(np.intp), src.shape[1] - 1)
            out[:vh, :vw] = src[rows[:, None], cols[None, :]]
            return out
        # only the source region that maps into the crop (+margin for bilinear)
        sy0 = max(int(np.floor(y0 / fy)) - 1, 0)
        sx0 = max(int(np.floor(x0 / fx)) - 1, 0)
        sy1 = min(int(np.ceil((y0 + vh) / fy)) + 2, src.shape[0])
        sx1 = min(int(np.ceil((x0 + vw) / fx)) + 2, src.shape[1])
        roi = src[sy0:sy1, sx0:sx1]
        # dst (x, y) -> src ((x + x0 + 0.5) / fx - 0.5 - sx0, ...): cv2.resize's pixel-centre convention
        m = np.array([[1 / fx, 0, (x0 + 0.5) / fx - 0.5 - sx0], [0, 1 / fy, (y0 + 0.5) / fy - 0.5 - sy0]], dtype=np.float64)
        warped = cv2.warpAffine(roi, m, (vw, vh), flags=interp | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        out[:vh, :vw] = warped.reshape((vh, vw) + src.shape[2:])
        return out


@dataclass
class TestPipeline:
    """Native resolution by default; optional keep-ratio resize of the image only (labels stay native)."""

    resize: Sequence[int] | None = None  # (long, short) or None

    def describe(self) -> list[str]:
        return ["native resolution" if not self.resize else f"Resize(image to {tuple(self.resize)}, keep_ratio=True; label native)"]

    def __call__(self, img: np.ndarray, label: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
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
