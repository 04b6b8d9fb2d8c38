"""The crop-first train pipeline against the MMSeg recipe done literally (tests/transforms_reference.py).

Same generator -> same sample: labels exactly, images to bilinear rounding; plus the recipe's semantics one by
one (target scale int(scale * ratio), cat_max_ratio with '>= 2 classes' and the last re-draw unchecked, pad
255, flip, PhotoMetricDistortion value for value). Timing is in benchmarks/bench_train_pipeline.py.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from prove_lightning.data.transforms import PhotoMetricDistortion, TrainPipeline, build_pipeline
from prove_lightning.data.transforms import TestPipeline as EvalPipeline
from transforms_reference import LiteralPhotoMetricDistortion, ResizeThenCropPipeline


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A 2048x1024 picture with edges and texture, and a blocky label with ignore pixels."""
    rng = np.random.default_rng(0)
    h, w = 1024, 2048
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.uint8)
    img = cv2.GaussianBlur((img + rng.integers(0, 60, img.shape)).clip(0, 255).astype(np.uint8), (0, 0), 2)
    lab = (((yy // 97) * 7 + (xx // 131)) % 19).astype(np.uint8)
    lab[rng.random(lab.shape) < 0.02] = 255
    return img, lab


@pytest.mark.parametrize("tol", [0.0, 1 / 64])
def test_crop_first_equals_resize_then_crop(pair, tol: float) -> None:
    img, lab = pair
    ours = TrainPipeline(photometric=False, subpixel_tolerance=tol)
    ref = ResizeThenCropPipeline(photometric=False)
    diffs = []
    for seed in range(24):
        a_img, a_lab = ours(img, lab, np.random.default_rng(seed))
        b_img, b_lab = ref(img, lab, np.random.default_rng(seed))
        assert a_lab.shape == b_lab.shape == (512, 512) and a_img.shape == (512, 512, 3)
        assert np.array_equal(a_lab, b_lab), f"seed {seed}: labels differ"
        diffs.append(np.abs(a_img.astype(int) - b_img.astype(int)))
    # tol 0: the exact affine warp, bilinear rounding only; 1/64: window within 1/64 px of MMSeg's
    assert max(d.max() for d in diffs) <= (1 if tol == 0 else 2)
    assert np.mean([d.mean() for d in diffs]) < 0.2


def test_whole_pipeline_with_photometric_matches_literal_reference(pair) -> None:
    img, lab = pair
    for seed in range(8):
        a = TrainPipeline(subpixel_tolerance=0)(img, lab, np.random.default_rng(seed))
        b = ResizeThenCropPipeline()(img, lab, np.random.default_rng(seed))
        assert np.array_equal(a[1], b[1])
        assert np.mean(np.abs(a[0].astype(int) - b[0].astype(int)) > 3) < 0.01


def test_photometric_distortion_is_mmseg_value_for_value() -> None:
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ours, literal = PhotoMetricDistortion(), LiteralPhotoMetricDistortion()
    changed = 0
    for seed in range(200):
        a, b = ours(img, np.random.default_rng(seed)), literal(img, np.random.default_rng(seed))
        assert np.array_equal(a, b), f"seed {seed}"
        changed += not np.array_equal(a, img)
    assert 150 < changed < 200  # each of 4 steps has p=0.5: about 1/16 of samples stay unchanged


def test_hue_shift_range_is_numpy_randint_exclusive() -> None:
    """MMSeg draws the hue delta with numpy randint(-18, 18): -18..17."""
    seen = {int(np.random.default_rng(s).integers(-18, 18)) for s in range(2000)}
    assert min(seen) == -18 and max(seen) == 17


def test_resized_size_truncates_the_target_scale_like_mmcv() -> None:
    p = TrainPipeline()

    class Fixed:
        def __init__(self, r: float) -> None:
            self.r = r

        def uniform(self, a: float, b: float) -> float:
            return self.r

    # ratio 0.7371: target (int(1509.58), int(754.79)) = (1509, 754); f = min(1509/2048, 754/1024)
    f = min(1509 / 2048, 754 / 1024)
    assert p.resized_size(1024, 2048, Fixed(0.7371)) == (int(1024 * f + 0.5), int(2048 * f + 0.5))
    # a 1280x720 BDD image at ratio 1: f = min(2048/1280, 1024/720)
    f = min(2048 / 1280, 1024 / 720)
    assert p.resized_size(720, 1280, Fixed(1.0)) == (int(720 * f + 0.5), int(1280 * f + 0.5))


def test_cat_max_ratio_needs_two_classes_and_redraws_at_most_ten_times() -> None:
    p = TrainPipeline(cat_max_ratio=0.75)
    assert not p.crop_ok(np.zeros((8, 8), np.uint8))  # one class
    two = np.zeros((8, 8), np.uint8)
    two[:, :2] = 1  # 75% / 25%: not below 0.75
    assert not p.crop_ok(two)
    two[:, :3] = 1
    assert p.crop_ok(two)  # 62.5%
    ign = np.full((8, 8), 255, np.uint8)
    ign[0, 0], ign[0, 1] = 3, 4
    assert p.crop_ok(ign)  # ignore pixels do not count
    # a label that never passes: 1 offset draw + 10 re-draws (MMSeg uses the 11th unchecked)

    rng = np.random.default_rng(0)
    calls = []
    orig = p.crop_offset
    p.crop_offset = lambda rh, rw, r: calls.append(1) or orig(rh, rw, r)  # type: ignore[method-assign]
    p(np.zeros((256, 512, 3), np.uint8), np.zeros((256, 512), np.uint8), rng)
    assert len(calls) == 11


def test_small_images_are_padded_with_ignore_and_flip_keeps_pairs_aligned() -> None:
    p = TrainPipeline(scale=(64, 32), ratio_range=(1.0, 1.0), crop_size=(48, 80), photometric=False, flip_prob=1.0, cat_max_ratio=1.0)
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, :10] = 200
    lab = np.zeros((32, 64), np.uint8)
    lab[:, :10] = 7
    out_img, out_lab = p(img, lab, np.random.default_rng(0))
    assert out_lab.shape == (48, 80)
    # flipped: the pad (label 255, image 0) is now on the left, the marked columns on the right of the valid part
    assert (out_lab[:, :16] == 255).all() and (out_img[:, :16] == 0).all() and (out_lab[32:] == 255).all()
    assert (out_lab[:32, 70:80] == 7).all() and (out_img[:32, 70:80] == 200).all()


def test_test_pipeline_is_native_by_default_and_resizes_the_image_only() -> None:
    img, lab = np.zeros((100, 200, 3), np.uint8), np.zeros((100, 200), np.uint8)
    a, b = build_pipeline(None, train=False)(img, lab)
    assert a.shape == (100, 200, 3) and b.shape == (100, 200)
    a, b = EvalPipeline(resize=(100, 50))(img, lab)
    assert a.shape == (50, 100, 3) and b.shape == (100, 200)
