"""How fast the entry points answer when nothing is trained: --help and --cfg job, beside `import hydra`.

    python benchmarks/bench_cli.py [--repeats 5]

Each command runs in a fresh interpreter (`python -c 'import hydra'`, `python -m prove_lightning.train --help`,
`... --cfg job`, `prove --help`); reported: median wall-clock and process CPU seconds with min-max, and whether
torch / Lightning got imported (they must not: Hydra answers before any run is built).
Target: --help and --cfg job import neither torch nor Lightning, and take at most import hydra + 1.5 s (median wall).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

PROBE = (
    "import runpy, sys, io, contextlib\n"
    "sys.argv = [{mod!r}, *{args!r}]\n"
    "buf = io.StringIO()\n"
    "try:\n"
    "    with contextlib.redirect_stdout(buf): runpy.run_module({mod!r}, run_name='__main__')\n"
    "except SystemExit: pass\n"
    "print(','.join(m for m in ('torch', 'pytorch_lightning', 'lightning') if m in sys.modules) or '-')\n"
)


def timed(cmd: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out[-1] if out else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    py = sys.executable
    cases = {
        "python -c 'import hydra'": [py, "-c", "import hydra; print('-')"],
        "train --help": [py, "-c", PROBE.format(mod="prove_lightning.train", args=["--help"])],
        "train --cfg job": [py, "-c", PROBE.format(mod="prove_lightning.train", args=["--cfg", "job"])],
        "prove --help": [py, "-c", PROBE.format(mod="prove_lightning.cli", args=["--help"])],
    }
    print(f"{'command':28s} {'wall s (median, min-max)':>28s} {'cpu s (median)':>15s}  heavy imports   ({a.repeats} runs, {os.cpu_count()} cpus)")
    medians = {}
    for name, cmd in cases.items():
        runs = [timed(cmd) for _ in range(a.repeats)]
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        medians[name] = (statistics.median(walls), runs[-1][2])
        print(f"{name:28s} {statistics.median(walls):10.2f} ({min(walls):.2f}-{max(walls):.2f}){'':8s} {statistics.median(cpus):12.2f}   {runs[-1][2]}")
    base = medians["python -c 'import hydra'"][0]
    for name in ("train --help", "train --cfg job"):
        wall, heavy = medians[name]
        ok = heavy == "-" and wall <= base + 1.5
        print(f"target {name}: no torch/Lightning and <= import hydra + 1.5 s ({base + 1.5:.2f} s): {'met' if ok else 'not met'} ({wall:.2f} s, imports: {heavy})")


if __name__ == "__main__":
    main()
