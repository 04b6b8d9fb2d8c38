"""Image and label decoding with errors that name the file; the fastest exact decoder for each file.

8-bit RGB and 8-bit greyscale PNGs (Cityscapes, ACDC, IDD images; Cityscapes/ACDC/BDD id maps) are decoded by
libspng (pyspng): a 2048x1024 image in ~24 ms where OpenCV's libpng takes ~29 and PIL ~33, to the same pixels
(benchmarks/bench_train_pipeline.py; tests/test_io_decode.py checks them equal). Everything else (JPEG, palette,
16-bit, alpha, grey images) goes to OpenCV, then PIL, as before. Each file is read from disk once.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from prove_lightning.errors import DataError
from prove_lightning.io import atomic_path

try:  # a dependency; without it (an odd platform) OpenCV and PIL decode every file, only slower
    import pyspng as _spng
except ImportError:  # pragma: no cover
    _spng = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB, _GREY = 2, 0  # PNG colour types (IHDR byte 25)


def _png_colour_type(data: bytes) -> int | None:
    """Colour type of an 8-bit PNG from its IHDR (bytes 24-25: bit depth, colour type), None for anything else."""
    if len(data) < 26 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or data[24] != 8:
        return None
    return data[25]


def _spng_decode(data: bytes, colour_type: int) -> np.ndarray | None:
    """libspng's decode of an 8-bit PNG of that colour type; None (let the next decoder try or explain) otherwise."""
    if _spng is None or _png_colour_type(data) != colour_type:
        return None
    try:
        return _spng.load(data)
    except Exception:  # noqa: BLE001 - a file libspng refuses is judged (and reported) by OpenCV/PIL below
        return None


def _read_bytes(path: str | os.PathLike, what: str, fix: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found; {fix}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read {what} ({e.strerror or e}); check the file's permissions or replace it") from None


def read_image_native(path: str | os.PathLike) -> tuple[np.ndarray, bool]:
    """uint8 (H, W, 3) in the decoder's own channel order, and whether that order is BGR (OpenCV) or RGB.

    A pipeline that converts only its crop takes the image as decoded, so no decoder's order costs a full pass.
    ``IMREAD_IGNORE_ORIENTATION``: pixels as stored, like PIL and like the labels (an EXIF rotation would move the
    image off its label). Grey, palette and RGBA files come back as 3 channels (alpha dropped), as PIL's
    ``convert("RGB")``.
    """
    data = _read_bytes(path, "image", "check the dataset root in conf/paths or the manifest")
    img = _spng_decode(data, _RGB)
    if img is not None:
        return img, False
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is not None:
        return img, True
    return _read_image_pil(path, data), False  # formats OpenCV lacks (some TIFF/GIF variants); PIL says why if it cannot


def read_image(path: str | os.PathLike, bgr: bool = False) -> np.ndarray:
    """RGB uint8 (H, W, 3) (BGR with ``bgr=True``): one decode, at most one channel swap in place."""
    img, is_bgr = read_image_native(path)
    if is_bgr != bgr:
        cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)  # the same swap either way
    return img


def _read_image_pil(path: str | os.PathLike, data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im if im.mode == "RGB" else im.convert("RGB")).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: cannot decode image ({e}); re-export or delete the file") from None


def read_label(path: str | os.PathLike) -> np.ndarray:
    """Raw label ids (H, W) as stored: palette PNGs give indices, 16-bit PNGs give int32, 3-channel labels (equal channels) give channel 0."""
    data = _read_bytes(path, "label", "every image needs its label (run `prove data check`)")
    arr = _spng_decode(data, _GREY)
    if arr is not None:
        return np.ascontiguousarray(arr)
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode in ("P", "L"):
                arr = np.asarray(im)
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im).astype(np.int32)
            elif im.mode in ("RGB", "RGBA"):
                rgb = np.asarray(im)
                arr = rgb[..., 0]
                if not (np.array_equal(arr, rgb[..., 1]) and np.array_equal(arr, rgb[..., 2])):
                    raise DataError(
                        f"{path}: 3-channel label whose channels differ, i.e. a colour-coded label; ids are "
                        f"never guessed from colours: use the dataset's id masks (e.g. Mapillary's palette PNGs)"
                    )
            else:
                arr = np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: cannot decode label ({e}); re-export or delete the file") from None
    return np.ascontiguousarray(arr)


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(array).save(tmp, format="PNG", compress_level=1)
