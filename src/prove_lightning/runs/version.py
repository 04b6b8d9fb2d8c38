"""What code produced a run: git commit (+dirty flag) when in a checkout, else the package version."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import prove_lightning


def code_version() -> dict[str, Any]:
    root = Path(prove_lightning.__file__).resolve().parents[2]
    info: dict[str, Any] = {"package_version": prove_lightning.__version__, "git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10
            )
            info["git_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    info["code_version"] = (
        f"{info['git_commit'][:12]}{'+dirty' if info['git_dirty'] else ''}" if info["git_commit"] else f"v{prove_lightning.__version__}"
    )
    return info
