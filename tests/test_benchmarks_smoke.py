"""benchmarks/run_all.py at tiny sizes (--smoke): the scripts run, report their figures and the table is printed.
Timing is never asserted (figures at smoke sizes mean nothing); bench_eval and bench_models are left out here
to keep the suite fast (they run the same measuring code as bench_train_step on other networks / run_eval)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_all_smoke_prints_one_table_with_targets() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    only = ["bench_confusion", "bench_train_pipeline", "bench_train_pipeline_512x1024", "bench_train_step"]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks/run_all.py"), "--smoke", "--only", *only], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    table = r.stdout.split("smoke run")[-1]
    assert "| benchmark" in table and "0 script(s) failed" in table
    for figure in ("confusion counting, uint8", "ours / cv2 decode", "MMSeg's way / ours", "framework / bare step, segformer_b0"):
        assert figure in table, figure
    assert "target" in table and ("met" in table)
