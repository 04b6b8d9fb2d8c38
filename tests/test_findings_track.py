"""prove track on a prepared output tree holding every status; it never imports torch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from prove_lightning.runs.locks import LockInfo

STRATEGIES = "baseline,gen_albumentations_weather,gen_physics_weather,gen_random_noise,std_cutmix,std_mixup,std_autoaugment,gen_cycleGAN"
RUNNER = """
import json, sys
from prove_lightning.cli import main
root = sys.argv[1]
for strategies in sys.argv[2:]:
    rc = main(['track', 'sweep=demo', f'paths.output_root={root}', f'strategy={strategies}', '--json', '-j', '1'])
    print('RC', rc)
print('TORCH', 'torch' in sys.modules)
"""


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _lock(run_dir: Path, pid: int) -> None:
    info = LockInfo.mine(run_dir.name)
    info.pid, info.pid_start, info.host = pid, None, socket.gethostname()
    _touch(run_dir / "run.lock", json.dumps(asdict(info)))


def test_track_every_status_without_torch(tmp_path: Path) -> None:
    root = tmp_path
    d = lambda s, leaf="segformer_b0": root / "demo" / s / "toycity" / leaf  # noqa: E731
    ck = "checkpoints/step_150.ckpt"
    _touch(d("baseline") / ck)  # tested: final checkpoint + rows in the store
    pd.DataFrame([{"run_id": "demo/baseline/toycity/segformer_b0", "step": 150, "test_dataset": "toycity", "domain": "all", "mIoU": 1.0}]).to_csv(root / "results.csv", index=False)
    _touch(d("gen_albumentations_weather", "segformer_b0_ratio0p50") / ck)  # trained, not tested
    _touch(d("gen_physics_weather", "segformer_b0_ratio0p50") / "checkpoints/step_75.ckpt")  # partial
    _touch(d("gen_physics_weather", "segformer_b0_ratio0p50") / "checkpoints/last.ckpt")
    _touch(d("gen_random_noise", "segformer_b0_ratio0p50") / "logs/error.log", "Traceback ...\n  File x\nRuntimeError: CUDA out of memory\n\n")
    _lock(d("std_cutmix"), os.getpid())  # alive: this very process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock(d("std_mixup"), dead.pid)  # stale: its pid has exited
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", RUNNER, str(root), STRATEGIES, "baseline"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[-1] == "TORCH False"
    rcs = [ln for ln in lines if ln.startswith("RC ")]
    assert rcs == ["RC 1", "RC 0"]  # some runs not tested -> 1; the narrowed grid (baseline only) all tested -> 0
    first = json.loads(out.stdout[: out.stdout.index("RC 1")])
    status = {r["strategy"]: (r["status"], r["detail"]) for r in first["runs"]}
    assert status["baseline"][0] == "tested"
    assert status["gen_albumentations_weather"][0] == "trained" and "toycity" in status["gen_albumentations_weather"][1]
    assert status["gen_physics_weather"][0] == "partial" and "step 75 of 150" in status["gen_physics_weather"][1] and "last.ckpt" in status["gen_physics_weather"][1]
    assert status["gen_random_noise"] == ("failed", status["gen_random_noise"][1]) and status["gen_random_noise"][1].startswith("RuntimeError: CUDA out of memory")
    assert "error.log" in status["gen_random_noise"][1]
    assert status["std_cutmix"][0] == "locked" and status["std_cutmix"][1].startswith("alive") and f"pid {os.getpid()}" in status["std_cutmix"][1]
    assert status["std_mixup"][0] == "locked" and status["std_mixup"][1].startswith("stale")
    assert status["std_autoaugment"][0] == "missing"
    assert status["gen_cycleGAN"][0] == "no_generated_images"
    assert first["counts"] == {"tested": 1, "trained": 1, "partial": 1, "failed": 1, "locked": 2, "no_generated_images": 1, "missing": 1, "total": 8}
    assert first["by_model"] == [{"model": "segformer_b0", **{k: v for k, v in first["counts"].items()}}]
    assert not first["all_tested"]
