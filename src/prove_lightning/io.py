"""Atomic writes and image reads with errors that name the file."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from prove_lightning.errors import DataError, StorageError


#: errors of the file system, not of the program: reported as one StorageError naming the path
STORAGE_ERRNOS = {errno.ENOSPC: "no space left on the device (disk full)", errno.EDQUOT: "disk quota exceeded",
                  errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "operation not permitted"}


def storage_error(path: str | os.PathLike, err: OSError | str) -> StorageError:
    """One line naming the path and what happened; the caller guarantees that nothing was overwritten."""
    why = STORAGE_ERRNOS.get(err.errno, err.strerror or str(err)) if isinstance(err, OSError) else err
    return StorageError(
        f"cannot write {path}: {why}; nothing was overwritten (an earlier version of the file, if any, is intact). "
        f"Free space or fix the permissions there, or set paths.output_root to a writable location"
    )


def is_storage_error(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in STORAGE_ERRNOS


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it over ``path`` only if the block succeeds.

    A read-only folder or a full disk raises StorageError naming ``path``; the temp file is removed and the
    old ``path`` is untouched (a process killed mid-write leaves ``.<name>.*<suffix>``: see runs/checkpoints.py).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    except OSError as e:
        if is_storage_error(e):
            raise storage_error(path, e) from None
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as e:
        if is_storage_error(e):
            raise storage_error(path, e) from None
        raise
    finally:
        try:
            tmp_path.unlink(missing_ok=True)
        except OSError:
            pass


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic GC around a burst of allocations that makes no garbage (unpickling a checkpoint): in a
    process holding torch + Lightning + Hydra, each gen-2 pass walks millions of objects, and torch.load of a
    tiny model's checkpoint spent 5 s of a 14 s `prove eval` in them (benchmarks/bench_eval.py, issue 15)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_image(path: str | os.PathLike, bgr: bool = False) -> np.ndarray:
    """RGB uint8 (H, W, 3), decoded by OpenCV: one decode, the BGR->RGB swap in place, no other copy.

    ``bgr=True`` returns OpenCV's BGR as decoded, for a pipeline that converts its (smaller) crop instead.

    ``IMREAD_IGNORE_ORIENTATION``: pixels as stored, like PIL and like the labels (an EXIF rotation would move the
    image off its label). Grey, palette and RGBA files come back as 3-channel RGB (alpha dropped), as PIL's
    ``convert("RGB")``. OpenCV returns None instead of raising: the cause is told apart here.
    """
    img = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        if not Path(path).is_file():
            raise DataError(f"{path}: image file not found; check the dataset root in conf/paths or the manifest")
        img = _read_image_pil(path)  # formats OpenCV lacks (e.g. some TIFF/GIF variants); PIL says why if it cannot
        return cv2.cvtColor(img, cv2.COLOR_RGB2BGR, dst=img) if bgr else img
    return img if bgr else cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)


def _read_image_pil(path: str | os.PathLike) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im if im.mode == "RGB" else im.convert("RGB")).copy()
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found; check the dataset root in conf/paths or the manifest") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"{path}: cannot decode image ({e}); re-export or delete the file") from None


def read_label(path: str | os.PathLike) -> np.ndarray:
    """Raw label ids (H, W) as stored: palette PNGs give indices, 16-bit PNGs give int32, 3-channel labels (equal channels) give channel 0."""
    try:
        with Image.open(path) as im:
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
    except FileNotFoundError:
        raise DataError(f"{path}: label file not found; every image needs its label (run `prove data check`)") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"{path}: cannot decode label ({e}); re-export or delete the file") from None
    return np.ascontiguousarray(arr)


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(array).save(tmp, format="PNG", compress_level=1)
