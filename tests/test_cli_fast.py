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


def test_bash_completion_of_prove_completes_commands_and_config_choices(tmp_path) -> None:  # noqa: ANN001
    from prove_lightning.commands.completion import SCRIPT

    script = tmp_path / "t.sh"
    script.write_text(
        f'prove() {{ "{sys.executable}" -m prove_lightning.cli "$@"; }}\n{SCRIPT}\n'
        'COMP_LINE="prove train model=segformer_b"; COMP_POINT=${#COMP_LINE}; COMP_CWORD=4; _prove_complete; echo "${COMPREPLY[*]}"\n'
        'COMP_LINE="prove pl"; COMP_POINT=${#COMP_LINE}; COMP_CWORD=1; _prove_complete; echo "${COMPREPLY[*]}"\n'
        'COMP_LINE="prove train hydra/launcher=sl"; COMP_POINT=${#COMP_LINE}; COMP_CWORD=4; _prove_complete; echo "${COMPREPLY[*]}"\n'
    )
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    models, commands, launchers = out.stdout.splitlines()
    assert {"segformer_b0", "segformer_b3"} <= set(models.split()) and all(m.startswith("segformer_b") for m in models.split())
    assert commands == "plan" and set(launchers.split()) == {"slurm", "slurm_ddp"}, out.stdout
