"""--help and --cfg job answer before anything heavy is imported (benchmarks/bench_cli.py times them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = (
    "import runpy, sys, io, contextlib\n"
    "sys.argv = ['prove_lightning.train', *sys.argv[1:]]\n"
    "buf = io.StringIO()\n"
    "try:\n"
    "    with contextlib.redirect_stdout(buf): runpy.run_module('prove_lightning.train', run_name='__main__')\n"
    "except SystemExit as e: assert not e.code, e.code\n"
    "assert buf.getvalue().strip(), 'no output'\n"
    "print(sorted(m for m in ('torch', 'pytorch_lightning', 'lightning', 'torchvision') if m in sys.modules))\n"
)


@pytest.mark.parametrize("args", [["--help"], ["--cfg", "job"], ["--cfg", "job", "logger=null", "hydra/launcher=slurm"]])
def test_answers_without_torch_or_lightning(args: list[str]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-500:]
