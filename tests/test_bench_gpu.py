"""benchmarks/bench_gpu.py runs: its --smoke mode (tiny model and size, CPU, one DDP-spawn scaling run with 2
processes) goes through every code path the GPU run takes except CUDA itself. No figure is checked: timings
belong to the benchmark, never to a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slurm.runner import job_env

pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


def test_bench_gpu_smoke_runs_on_cpu(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--models", "segformer_b0", "--devices", "2"],
        env=job_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    for variant in ("fp32", "bf16+channels_last"):
        assert f"segformer_b0        {variant}" in out and "failed" not in out.split(variant, 1)[1].splitlines()[0], out
    assert "DDP segformer_b0" in out and "2 devices" in out and "efficiency" in out, out
    assert "worst framework/bare ratio" in out
