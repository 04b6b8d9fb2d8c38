"""Shared helpers of the reliability suite: snapshots (nothing overwritten), the real entry points in-process."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sys
from pathlib import Path

#: files a refused launch may add (never change): Hydra's job log and filelock's guard file
MAY_APPEAR = ("train.log", "eval.log", "run.lock.guard", "results.csv.lock")


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def changed(before: dict[str, str], after: dict[str, str], may_appear: tuple[str, ...] = MAY_APPEAR) -> list[str]:
    """Files changed or removed, and new files other than those that may appear."""
    bad = [f"changed or removed: {k}" for k, v in before.items() if after.get(k) != v]
    bad += [f"new: {k}" for k in after if k not in before and Path(k).name not in may_appear]
    return bad


def run_train_cli(args: list[str]) -> tuple[int, str]:
    """``python -m prove_lightning.train ARGS`` in this process (Hydra, launch guard, user_errors): (exit code, stderr)."""
    from prove_lightning import train

    argv, sys.argv = sys.argv, ["prove_lightning.train", *args]
    err = io.StringIO()
    code: int | str | None = 0
    try:
        with contextlib.redirect_stderr(err):
            try:
                train.main()
            except SystemExit as e:
                code = e.code
    finally:
        sys.argv = argv
    return int(code or 0), err.getvalue()


def run_prove_cli(args: list[str]) -> tuple[int, str, str]:
    """``prove ARGS`` in this process: (exit code, stdout, stderr)."""
    from prove_lightning.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:
            code = e.code
    return int(code or 0), out.getvalue(), err.getvalue()
