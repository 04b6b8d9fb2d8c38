"""The image ops of AutoAugment / RandAugment, label-aware: geometric ops move the label with nearest
interpolation and fill uncovered label pixels with 255 (ignore); colour ops change the image only.

Geometric ops use albumentations' Affine (image and mask warped together, ``fill_mask``); colour ops use
Pillow's ImageOps / ImageEnhance, the definitions AutoAugment and RandAugment were specified with.
Magnitudes follow the papers' bins: ``value(op, m, bins, h, w)`` maps bin m of ``bins`` to the op's value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import albumentations as A
import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from prove_lightning.data.labels import IGNORE_INDEX

Arrays = tuple[np.ndarray, np.ndarray]


@lru_cache(maxsize=256)
def _affine(rotate: float, shear_x: float, shear_y: float, tx: int, ty: int, fill: int, fill_mask: int) -> A.Affine:
    return A.Affine(
        rotate=(rotate, rotate),
        shear={"x": (shear_x, shear_x), "y": (shear_y, shear_y)},
        translate_px={"x": (tx, tx), "y": (ty, ty)},
        interpolation=cv2.INTER_LINEAR,
        mask_interpolation=cv2.INTER_NEAREST,
        border_mode=cv2.BORDER_CONSTANT,
        fill=fill,
        fill_mask=fill_mask,
        p=1.0,
    )


def affine(image: np.ndarray, label: np.ndarray, rotate: float = 0.0, shear_x: float = 0.0, shear_y: float = 0.0, tx: int = 0, ty: int = 0, fill: int = 0) -> Arrays:
    """Rotate / shear (degrees) about the centre and translate (pixels); label nearest, uncovered label = 255."""
    out = _affine(float(rotate), float(shear_x), float(shear_y), int(tx), int(ty), int(fill), IGNORE_INDEX)(image=image, mask=label)
    return out["image"], out["mask"].astype(label.dtype, copy=False)


def _pil(fn: Callable[[Image.Image], Image.Image]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda img: np.array(fn(Image.fromarray(img)))  # a writable copy (torch.from_numpy later)


def _enhance(cls: type, factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return _pil(lambda im: cls(im).enhance(factor))


@dataclass(frozen=True)
class Op:
    """``apply(image, label, value, (h, w)) -> (image, label)``; ``top`` is the value at the last magnitude bin."""

    apply: Callable[[np.ndarray, np.ndarray, float], Arrays]
    top: float | Callable[[int, int], float] | None  # None: no magnitude; callable: depends on (h, w)
    signed: bool = False
    geometric: bool = False
    start: float = 0.0  # value at bin 0 (Solarize counts down from 255)


def _colour(f: Callable[[np.ndarray, float], np.ndarray]) -> Callable[[np.ndarray, np.ndarray, float], Arrays]:
    return lambda img, lab, v: (f(img, v), lab)


OPS: dict[str, Op] = {
    "Identity": Op(lambda img, lab, v: (img, lab), None),
    "ShearX": Op(lambda img, lab, v: affine(img, lab, shear_x=math.degrees(math.atan(v))), 0.3, signed=True, geometric=True),
    "ShearY": Op(lambda img, lab, v: affine(img, lab, shear_y=math.degrees(math.atan(v))), 0.3, signed=True, geometric=True),
    "TranslateX": Op(lambda img, lab, v: affine(img, lab, tx=round(v)), lambda h, w: 150 / 331 * w, signed=True, geometric=True),
    "TranslateY": Op(lambda img, lab, v: affine(img, lab, ty=round(v)), lambda h, w: 150 / 331 * h, signed=True, geometric=True),
    "Rotate": Op(lambda img, lab, v: affine(img, lab, rotate=v), 30.0, signed=True, geometric=True),
    "Brightness": Op(_colour(lambda img, v: _enhance(ImageEnhance.Brightness, 1 + v)(img)), 0.9, signed=True),
    "Color": Op(_colour(lambda img, v: _enhance(ImageEnhance.Color, 1 + v)(img)), 0.9, signed=True),
    "Contrast": Op(_colour(lambda img, v: _enhance(ImageEnhance.Contrast, 1 + v)(img)), 0.9, signed=True),
    "Sharpness": Op(_colour(lambda img, v: _enhance(ImageEnhance.Sharpness, 1 + v)(img)), 0.9, signed=True),
    "Posterize": Op(_colour(lambda img, v: _pil(lambda im: ImageOps.posterize(im, int(v)))(img)), 4.0, start=8.0),
    "Solarize": Op(_colour(lambda img, v: _pil(lambda im: ImageOps.solarize(im, v))(img)), 0.0, start=255.0),
    "AutoContrast": Op(_colour(lambda img, v: _pil(ImageOps.autocontrast)(img)), None),
    "Equalize": Op(_colour(lambda img, v: _pil(ImageOps.equalize)(img)), None),
    "Invert": Op(_colour(lambda img, v: _pil(ImageOps.invert)(img)), None),
}


def value(name: str, m: int, bins: int, h: int, w: int) -> float | None:
    """The op's value at magnitude bin ``m`` of ``bins`` (linear from ``start`` to ``top``); Posterize rounds to bits."""
    op = OPS[name]
    if op.top is None:
        return None
    top = op.top(h, w) if callable(op.top) else op.top
    if name == "Posterize":  # 8 bits at bin 0 down to 4 at the last bin, in whole bits
        return float(8 - round(m / ((bins - 1) / 4)))
    return op.start + (top - op.start) * m / (bins - 1)


def run(name: str, image: np.ndarray, label: np.ndarray, m: int | None, bins: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """Apply op ``name`` at bin ``m`` (random sign for signed ops); returns (image, label, 'Name(value)')."""
    op = OPS[name]
    h, w = label.shape[:2]
    v = value(name, m or 0, bins, h, w) if m is not None else None
    if v is not None and op.signed and rng.random() < 0.5:
        v = -v
    image, label = op.apply(image, label, 0.0 if v is None else v)
    return np.ascontiguousarray(image), np.ascontiguousarray(label), name if v is None else f"{name}({v:.3g})"
