"""Decoders: images by OpenCV equal PIL's RGB pixel for pixel (PNG; grey, palette and RGBA files too, EXIF
orientation ignored as PIL does); labels stay PIL's exact ids: a palette PNG gives its indices, which OpenCV's
IMREAD_UNCHANGED would not (it expands the palette to colours); the crop-first BGR path gives the same sample."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from prove_lightning.errors import DataError
from prove_lightning.io import read_image, read_label


def test_read_image_equals_pil_rgb_for_every_png_mode(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    cases = {"RGB": Image.fromarray(rgb), "L": Image.fromarray(rgb[..., 0]), "RGBA": Image.fromarray(np.dstack([rgb, rgb[..., :1]]))}
    cases["P"] = Image.fromarray(rgb).quantize(16)
    for mode, im in cases.items():
        path = tmp_path / f"{mode}.png"
        im.save(path)
        with Image.open(path) as ref:
            want = np.asarray(ref.convert("RGB"))
        got = read_image(path)
        assert got.dtype == np.uint8 and got.flags.c_contiguous and np.array_equal(got, want), mode
        assert np.array_equal(read_image(path, bgr=True), want[..., ::-1]), mode


def test_read_image_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_image(tmp_path / "absent.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="bad.png: cannot decode"):
        read_image(bad)


def test_palette_labels_are_read_as_indices_not_colours(tmp_path: Path) -> None:
    ids = np.random.default_rng(1).integers(0, 34, (20, 30), dtype=np.uint8)
    ids[0, 0] = 255
    im = Image.fromarray(ids, mode="L").convert("P")
    im.putpalette([(i * 37) % 256 for i in range(768)])  # colours unrelated to the ids
    path = tmp_path / "label.png"
    im.save(path)
    got = read_label(path)
    assert got.dtype == np.uint8 and np.array_equal(got, ids)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (20, 30, 3)  # why labels are not read by cv2


def test_crop_first_bgr_path_gives_the_same_sample_as_rgb() -> None:
    from prove_lightning.data.transforms import build_pipeline

    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (96, 192, 3), dtype=np.uint8)
    lab = rng.integers(0, 19, (96, 192), dtype=np.uint8)
    pipe = build_pipeline({"scale": [192, 96], "crop_size": [48, 96]}, train=True)
    for seed in range(6):
        a = pipe(img.copy(), lab, np.random.default_rng(seed))
        b = pipe(np.ascontiguousarray(img[..., ::-1]), lab, np.random.default_rng(seed), bgr=True)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    test = build_pipeline({"resize": [96, 48]}, train=False)
    assert np.array_equal(test(img.copy(), lab)[0], test(np.ascontiguousarray(img[..., ::-1]), lab, bgr=True)[0])
