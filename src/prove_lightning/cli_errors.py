"""Turn user-fixable errors into one clear line and a non-zero exit (full traceback with HYDRA_FULL_ERROR=1)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from prove_lightning.errors import ProveError

EXIT_USER_ERROR = 2


def find_prove_error(exc: BaseException) -> ProveError | None:
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ProveError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is a user-fixable ProveError
        err = find_prove_error(exc)
        if err is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
