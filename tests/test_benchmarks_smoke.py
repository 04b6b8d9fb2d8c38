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


def test_gpu_benchmark_is_reported_as_not_run_on_a_machine_without_a_gpu(monkeypatch, capsys) -> None:
    """A full run_all on a CPU machine must not spend hours on full-size models in bench_gpu, nor hide it:
    its row says 'not run' (the device check is replaced here, so the test means the same with or without a GPU)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_all

    monkeypatch.setattr(run_all, "has_gpu", lambda: False)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "bench_gpu"])
    assert run_all.main() == 0
    out = capsys.readouterr().out
    assert "| bench_gpu | not run: no GPU on this machine" in out and "0 script(s) failed" in out
