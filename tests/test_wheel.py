"""A non-editable install works: the wheel carries conf/ as prove_lightning/conf and the entry points find it.

The wheel is built from this checkout and installed (--no-deps) into a fresh venv that sees the test env's
packages (torch, Hydra, ...) through a .pth line, then the entry points run from a folder outside the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1")
    return env


def test_wheel_ships_conf_and_its_entry_points_run_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = wheels.glob("prove_lightning-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "prove_lightning/conf/train.yaml" in names and "prove_lightning/conf/model/segformer_b0.yaml" in names
    assert any(n.startswith("hydra_plugins/prove_lsf_launcher/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True).stdout.strip()
    # the test env's packages, after the fresh venv's own (a path line: the test env's editable .pth is not run)
    Path(site, "_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True, text=True)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = _clean_env()
    where = subprocess.run([str(py), "-c", "import prove_lightning.config as c; print(c.__file__); print(c.CONF_DIR)"], cwd=outside, env=env, check=True, capture_output=True, text=True)
    module_file, conf_dir = where.stdout.split()
    assert module_file.startswith(str(venv)) and conf_dir == str(Path(module_file).parent / "conf"), where.stdout

    job = subprocess.run([str(py), "-m", "prove_lightning.train", "--cfg", "job", "model=segformer_b0"], cwd=outside, env=env, capture_output=True, text=True)
    assert job.returncode == 0, job.stderr[-2000:]
    assert "name: segformer_b0" in job.stdout and "run_relpath:" in job.stdout

    prove = subprocess.run([str(venv / "bin" / "prove"), "--help"], cwd=outside, env=env, capture_output=True, text=True)
    assert prove.returncode == 0, prove.stderr[-2000:]
    assert "commands:" in prove.stdout and "plan" in prove.stdout
