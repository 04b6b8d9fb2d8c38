"""SIGKILL of a real training process at 3 random moments, then a relaunch to the end: the final weights and the
test metrics are bit-identical to an uninterrupted run, each relaunch takes the dead holder's lock over, and no
temp file is left. The moments are drawn from a seed printed with the trial log (KILL_SEED=... to replay)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.ckpt\.tmp|\.tmp|\.png|\.csv)$")
METRICS = ["n_images", "aAcc", "mIoU", "mAcc", "fwIoU"]


def _launch(out: Path, cache: Path, log: Path) -> subprocess.Popen:
    from conftest import SMALL_TOYCITY

    args = ["stage=demo", "model=segformer_b0", "dataset=toycity", "trainer=cpu", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
            "data.num_workers=0", "data.batch_size=4", "trainer.max_steps=6", "trainer.val_check_interval=3", "stage.checkpoint_interval=3",
            f"paths.output_root={out}", f"paths.cache_root={cache}", *SMALL_TOYCITY]  # = conftest.compose_train([])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.Popen([sys.executable, "-m", "prove_lightning.train", *args], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def _holder(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / "run.lock").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_sigkill_at_three_random_moments_then_resume_is_bit_identical(tmp_path: Path, cache_root: Path, uninterrupted) -> None:
    cfg_ref, result_ref, out_ref = uninterrupted
    seed = int(os.environ.get("KILL_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    out = tmp_path / "killed"
    run_dir = out / "demo/baseline/toycity/segformer_b0"
    log = tmp_path / "launches.log"
    trials = []
    # one random moment in each phase: while building / early steps, after step_3.ckpt (steps 4-6 and the step_6
    # save), after step_6.ckpt (testing and the results write)
    phases = [("the lock", None, 4.0), ("step_3.ckpt", "step_3.ckpt", 3.0), ("step_6.ckpt", "step_6.ckpt", 3.0)]
    for i, (event, marker, span) in enumerate(phases):
        proc = _launch(out, cache_root, log)
        while proc.poll() is None and (_holder(run_dir) != proc.pid or (marker and not (run_dir / "checkpoints" / marker).exists())):
            time.sleep(0.01)
        delay = rng.uniform(0.0, span)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        finished_first = proc.poll() is not None
        held = False
        if not finished_first:
            held = _holder(run_dir) == proc.pid  # a kill after the lock's release (exiting) leaves no stale lock
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
        ckpts = sorted(p.name for p in (run_dir / "checkpoints").glob("*")) if (run_dir / "checkpoints").exists() else []
        rows = len(pd.read_csv(out / "results.csv")) if (out / "results.csv").exists() else 0
        trials.append(f"kill {i + 1}: {delay:.2f} s after {event}, {'finished before the kill' if finished_first else 'SIGKILL' + (' holding the lock' if held else ' after the lock was released')}; "
                      f"on disk: {ckpts}, {rows} result rows")
    final = _launch(out, cache_root, log)
    assert final.wait(timeout=600) == 0, log.read_text()[-4000:]
    text = log.read_text()
    report = f"kill/resume seed {seed}:\n  " + "\n  ".join(trials)
    print(report)
    (tmp_path.parent / "kill_resume_report.txt").write_text(report + "\n")
    killed_with_lock = sum("holding the lock" in t for t in trials)  # kills that left the job's lock behind
    assert text.count("taking over") == killed_with_lock, report  # each relaunch after a kill took the stale lock over
    a = torch.load(result_ref["final_ckpt"], weights_only=False)["state_dict"]
    b = torch.load(run_dir / "checkpoints/step_6.ckpt", weights_only=False)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), report
    ref = pd.read_csv(out_ref / "results.csv").set_index("domain")[METRICS].sort_index()
    got = pd.read_csv(out / "results.csv").set_index("domain")[METRICS].sort_index()
    pd.testing.assert_frame_equal(ref, got, check_exact=True)
    assert not (run_dir / "run.lock").exists()
    assert not [p for p in out.rglob(".*") if _TEMP.match(p.name)], "temp files left"
