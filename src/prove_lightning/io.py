"""Atomic writes, storage errors that name the path, shared permissions (image decoding: images.py)."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from prove_lightning.errors import ConfigError, StorageError


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


#: set by :func:`set_shared_permissions` from paths.file_mode / paths.group: mode and gid of every file written here
_SHARED: dict[str, int | None] = {"mode": None, "gid": None}


def current_umask() -> int:
    """The process umask, read without changing it where /proc tells it (os.umask can only set-and-return)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def set_shared_permissions(file_mode: str | int | None = None, group: str | int | None = None) -> None:
    """A shared results folder: every file written through this module gets ``file_mode`` (octal, e.g. "664")
    and group ``group`` (name or gid) instead of the umask's mode and the user's primary group; None = leave."""
    mode = None
    if file_mode not in (None, ""):
        try:
            mode = int(str(file_mode), 8) if not isinstance(file_mode, int) else file_mode
        except ValueError:
            raise ConfigError(f"paths.file_mode={file_mode!r} is not an octal mode; write it as a string like '664' or '0o664'") from None
        if not 0 <= mode <= 0o7777:
            raise ConfigError(f"paths.file_mode={file_mode!r} is out of range; use e.g. '664' (rw-rw-r--)")
    gid = None
    if group not in (None, ""):
        import grp

        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
        except KeyError:
            raise ConfigError(f"paths.group={group!r}: no such group on this host; see `getent group` or drop paths.group") from None
    _SHARED.update(mode=mode, gid=gid)


def apply_permissions(path: str | os.PathLike) -> None:
    """Give a freshly written file the mode the umask allows (0666 & ~umask), or paths.file_mode / paths.group."""
    mode = _SHARED["mode"]
    os.chmod(path, mode if mode is not None else 0o666 & ~current_umask())
    if _SHARED["gid"] is not None:
        os.chown(path, -1, int(_SHARED["gid"]))



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
        apply_permissions(tmp_path)  # mkstemp makes 0600: a shared folder could not read the result
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
