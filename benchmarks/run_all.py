"""Run every benchmark in benchmarks/ (bench_*.py) and print one table of figures with targets and met / not met.

    python benchmarks/run_all.py              # full sizes (minutes to an hour on a shared 2-core CPU machine)
    python benchmarks/run_all.py --smoke      # tiny sizes: checks every script runs (figures meaningless)
    python benchmarks/run_all.py --only bench_confusion bench_train_pipeline
    python benchmarks/run_all.py --args "bench_models=--size 256 256 --blocks 2"   # a script's own arguments

GPU benchmarks (bench_gpu) run only where there is a GPU; elsewhere their row says "not run".

Each script runs in its own interpreter with ``--json FILE`` (and ``--smoke``) and reports its figures there
(benchmarks/_common.py); a script without ``--json`` is run as it is and counted by its exit status. Exit status
1 when a target is missed or a script fails (not in --smoke mode, where only failures count), else 0. Run under
``flock /work/notes/bench.lock`` on a shared machine; the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import load_avg  # noqa: E402

#: extra arguments of the full-size run, per script (their defaults otherwise)
FULL_ARGS: dict[str, list[str]] = {
    "bench_train_pipeline": [],  # the conf's crop (conf/dataset/cityscapes.yaml)
    "bench_train_pipeline_512x1024": ["--crop", "512", "1024"],  # MMSeg's Cityscapes crop
    # the stricter size for a fixed per-step overhead, and enough pairs in ~12 min (bench_models' docstring)
    "bench_models": ["--size", "128", "128", "--steps", "6", "--budget-s", "120"],
}
#: a script run twice with different arguments: name -> script
ALIASES = {"bench_train_pipeline_512x1024": "bench_train_pipeline"}
#: scripts that measure a GPU: on a machine without one their full run is reported as not run (CPU figures of
#: full-size models would take hours and say nothing about a GPU); --smoke still runs them, on the CPU
NEEDS_GPU = {"bench_gpu"}


def has_gpu() -> bool:
    """An NVIDIA device node (what CUDA needs), without importing torch here."""
    return any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/nvidia0"))


def scripts(only: list[str] | None) -> list[tuple[str, Path]]:
    found = [(p.stem, p) for p in sorted(HERE.glob("bench_*.py"))]
    found += [(alias, HERE / f"{target}.py") for alias, target in ALIASES.items() if (HERE / f"{target}.py").is_file()]
    found.sort()
    return [(n, p) for n, p in found if not only or n in only or p.stem in only]


def run_one(name: str, path: Path, smoke: bool, tmp: Path) -> tuple[int, list[dict], float]:
    takes_json = "--json" in path.read_text()
    out = tmp / f"{name}.json"
    cmd = [sys.executable, str(path)]
    if takes_json:
        cmd += ["--json", str(out)]
    if smoke:
        cmd += ["--smoke"]
        if name in ALIASES:
            cmd += FULL_ARGS.get(name, [])
    else:
        cmd += FULL_ARGS.get(name, [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    print(f"=== {name}: {' '.join(cmd[1:])}", flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if "Warning" not in ln and not ln.startswith(("/", "  warnings.warn"))]
    print("\n".join(lines[-25:]), flush=True)
    figures = json.loads(out.read_text()) if takes_json and out.is_file() else []
    return proc.returncode, figures, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="every script at tiny sizes; exit 1 only when a script fails")
    ap.add_argument("--only", nargs="+", default=None, help="script names (bench_x) to run")
    ap.add_argument("--args", action="append", default=[], metavar="NAME=ARGS", help="replace a script's arguments, e.g. bench_models='--size 256 256'")
    a = ap.parse_args()
    for spec in a.args:
        name, _, rest = spec.partition("=")
        FULL_ARGS[name] = rest.split()
    rows: list[tuple[str, str, str, str, str]] = []
    failed = missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in scripts(a.only):
            if name in NEEDS_GPU and not a.smoke and not has_gpu():
                print(f"=== {name}: not run: it measures a GPU and this machine has none (--smoke runs it on the CPU)", flush=True)
                rows.append((name, "not run: no GPU on this machine", "", "", "not run"))
                continue
            rc, figures, secs = run_one(name, path, a.smoke, Path(tmp))
            if rc != 0:
                failed += 1
                rows.append((name, f"script exited {rc}", "", "", "FAILED"))
            if not figures and rc == 0:
                rows.append((name, "(no figures reported)", "", "", "ran"))
            for f in figures:
                value = f"{f['value']:.4g} {f['unit']}".strip()
                target = f"{f['op']} {f['target']:g}" if f["target"] is not None else ""
                verdict = "" if f["met"] is None else "met" if f["met"] else "NOT met"
                missed += f["met"] is False
                rows.append((name, f["name"] + (f" ({f['detail']})" if f["detail"] else ""), value, target, verdict))
            print(f"--- {name}: {secs:.0f} s", flush=True)
    widths = [max(len(r[i]) for r in rows + [("benchmark", "figure", "value", "target", "verdict")]) for i in range(5)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(f"\n{'smoke run (tiny sizes: figures not meaningful)' if a.smoke else 'benchmarks'}; {load_avg()}")
    print(line(("benchmark", "figure", "value", "target", "verdict")))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print(f"{failed} script(s) failed, {missed} target(s) not met")
    return 1 if failed or (missed and not a.smoke) else 0


if __name__ == "__main__":
    raise SystemExit(main())
