"""The MMSeg recipe done literally: resize the whole image and label, then crop, pad, flip, distort.

It draws the same random numbers in the same order as :class:`~prove_lightning.data.transforms.TrainPipeline`
but computes everything the plain way (whole-image cv2.resize, np.unique class counts, float32 photometric
arithmetic with clip-and-truncate after each step, two HSV round trips), so it is the oracle our crop-first
pipeline is tested against (labels exactly, images to bilinear rounding) and the "naive" variant that
benchmarks/bench_train_pipeline.py times beside ours. Not used in training (so it lives with the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from prove_lightning.data.transforms import TrainPipeline


def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


@dataclass
class LiteralPhotoMetricDistortion:
    """MMSeg's PhotoMetricDistortion step by step on float32 arrays (the random draws of ours, in order)."""

    brightness_delta: int = 32
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: int = 18

    def _contrast(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _convert(img, alpha=rng.uniform(*self.contrast_range)) if rng.integers(2) else img

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.integers(2):
            img = _convert(img, beta=rng.uniform(-self.brightness_delta, self.brightness_delta))
        mode = rng.integers(2)
        if mode == 1:
            img = self._contrast(img, rng)
        if rng.integers(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[:, :, 1] = _convert(hsv[:, :, 1], alpha=rng.uniform(*self.saturation_range))
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if rng.integers(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + int(rng.integers(-self.hue_delta, self.hue_delta))) % 180
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if mode == 0:
            img = self._contrast(img, rng)
        return img


@dataclass
class ResizeThenCropPipeline(TrainPipeline):
    _pmd: LiteralPhotoMetricDistortion = field(default_factory=LiteralPhotoMetricDistortion, repr=False)  # type: ignore[assignment]

    def describe(self) -> list[str]:
        return [*super().describe()[:-1], "reference: whole image resized, then cropped"]

    def crop_ok(self, lab_crop: np.ndarray) -> bool:
        labels, cnt = np.unique(lab_crop, return_counts=True)
        cnt = cnt[labels != self.ignore_index]
        return len(cnt) > 1 and np.max(cnt) / np.sum(cnt) < self.cat_max_ratio

    def finish(self, img_c: np.ndarray, lab_c: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if rng.random() < self.flip_prob:
            img_c, lab_c = img_c[:, ::-1].copy(), lab_c[:, ::-1].copy()
        if self.photometric:
            img_c = self._pmd(img_c, rng)
        return img_c, lab_c

    def __call__(self, img: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, w = label.shape
        rh, rw = self.resized_size(h, w, rng)
        img_r = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        lab_r = cv2.resize(label, (rw, rh), interpolation=cv2.INTER_NEAREST)
        ch, cw = self.crop_size
        y0, x0 = self.crop_offset(rh, rw, rng)
        if self.cat_max_ratio < 1.0:
            for _ in range(self.crop_tries):
                if self.crop_ok(lab_r[y0 : y0 + ch, x0 : x0 + cw]):
                    break
                y0, x0 = self.crop_offset(rh, rw, rng)
        img_c, lab_c = img_r[y0 : y0 + ch, x0 : x0 + cw], lab_r[y0 : y0 + ch, x0 : x0 + cw]
        pad = ((0, ch - img_c.shape[0]), (0, cw - img_c.shape[1]))
        img_c = np.pad(img_c, (*pad, (0, 0)), constant_values=self.img_pad_value)
        lab_c = np.pad(lab_c, pad, constant_values=self.ignore_index)
        return self.finish(img_c, lab_c, rng)
