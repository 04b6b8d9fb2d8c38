"""Decoders: images (libspng for 8-bit RGB PNGs, OpenCV, PIL) equal PIL's RGB pixel for pixel (PNG; grey, palette
and RGBA files too, EXIF orientation ignored as PIL does); labels stay PIL's exact ids: libspng only for 8-bit grey
PNGs, and a palette PNG gives its indices, which OpenCV's IMREAD_UNCHANGED would not (it expands the palette to
colours); the crop-first BGR path gives the same sample."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from prove_lightning.errors import DataError
from prove_lightning import images
from prove_lightning.images import read_image, read_image_native, read_label


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


def test_libspng_decodes_the_common_pngs_and_leaves_the_rest_to_opencv_and_pil(tmp_path: Path) -> None:
    """The fast path is really taken (8-bit RGB images, 8-bit grey labels, interlaced or not, any zlib level) and
    gives PIL's pixels; 16-bit, palette, alpha and grey images are decoded by the other decoders as before."""
    assert images._spng is not None, "pyspng is a dependency (pyproject.toml): install it"
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (41, 67, 3), dtype=np.uint8)
    ids = rng.integers(0, 34, (41, 67), dtype=np.uint8)
    for i, kw in enumerate([{}, {"compress_level": 1}, {"compress_level": 9}, {"interlace": 1}]):
        ip, lp = tmp_path / f"img{i}.png", tmp_path / f"lab{i}.png"
        Image.fromarray(rgb).save(ip, **kw)
        Image.fromarray(ids).save(lp, **kw)
        assert images._spng_decode(ip.read_bytes(), images._RGB) is not None, kw
        assert images._spng_decode(lp.read_bytes(), images._GREY) is not None, kw
        img, is_bgr = read_image_native(ip)
        assert not is_bgr and np.array_equal(img, rgb) and img.flags.c_contiguous, kw
        lab = read_label(lp)
        assert lab.dtype == np.uint8 and np.array_equal(lab, ids) and lab.flags.c_contiguous, kw
    deep = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(deep), (rgb.astype(np.uint16) * 257)[..., ::-1])
    assert images._spng_decode(deep.read_bytes(), images._RGB) is None  # not 8-bit: OpenCV's 16 -> 8 bit
    assert np.array_equal(read_image(deep), rgb)
    wide = tmp_path / "ids16.png"
    Image.fromarray(ids.astype(np.uint16) * 1000).save(wide)
    assert read_label(wide).dtype == np.int32 and int(read_label(wide).max()) == int(ids.max()) * 1000
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes((tmp_path / "img0.png").read_bytes()[:200])
    with pytest.raises(DataError, match="truncated.png: cannot decode image"):
        read_image(truncated)
    trunc_label = tmp_path / "truncated_label.png"
    trunc_label.write_bytes((tmp_path / "lab0.png").read_bytes()[:120])
    with pytest.raises(DataError, match="truncated_label.png: cannot decode label"):
        read_label(trunc_label)
