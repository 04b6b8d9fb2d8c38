"""prove plan: list every run of a sweep and what it needs, without launching anything.

    prove plan sweep=s1                         # the whole Stage-1 grid
    prove plan sweep=s1 dataset=bdd10k          # narrowed exactly as `train -m sweep=s1 dataset=bdd10k` would be
    prove plan sweep=cg --status to_run,locked  # only some statuses
    prove plan sweep=s1 --count                 # just the number of runs per status

Statuses: done (final checkpoint tested on every test set of the stage), not_tested (final checkpoint, results
missing: a job only tests it), locked (a live job holds the run; by whom), no_generated (gen_* strategy whose
manifest has no rows for the dataset: skipped), no_source (extended / cross-dataset run whose source run is
not finished), to_run (not started, partly trained, or holding a stale lock).
"""

from __future__ import annotations

import argparse
import os

from prove_lightning.runs.preflight import STATUSES

HELP = "list every run of a sweep with its status (done, not tested, locked, no generated images, to run)"


def with_last_error(status: str, run_dir, detail: str) -> str:  # noqa: ANN001
    """A run not done yet whose last attempt failed: its error.log's last line after the detail."""
    from prove_lightning.runs.joblog import last_error

    err = last_error(run_dir) if status != "done" else None
    return f"{detail}; last error: {err}" if err else detail


def main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from prove_lightning.tasks.plan import count_by_status, plan_sweep

    p = argparse.ArgumentParser(prog="prove plan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="Hydra overrides as for `python -m prove_lightning.train -m` (e.g. sweep=s1 model=pspnet_r50)")
    p.add_argument("--status", default=None, help=f"comma-separated statuses to list (of {', '.join(STATUSES)})")
    p.add_argument("--count", action="store_true", help="print only the number of runs per status")
    p.add_argument("--json", dest="json_out", default=None, help="also write the plan to this JSON file")
    p.add_argument("-j", "--jobs", type=int, default=min(8, os.cpu_count() or 1), help="processes composing runs (default: up to 8)")
    a = p.parse_args(argv)
    wanted = set(a.status.split(",")) if a.status else set(STATUSES)
    unknown = wanted - set(STATUSES)
    if unknown:
        p.error(f"unknown status {sorted(unknown)}; use {', '.join(STATUSES)}")

    planned = plan_sweep(a.overrides, progress=True, workers=a.jobs)
    counts = count_by_status(planned)
    console = Console(width=200)
    if not a.count:
        table = Table(title=f"plan: {' '.join(a.overrides) or '(defaults)'}")
        for col in ("#", "status", "run", "detail"):
            table.add_column(col)
        for i, run in enumerate(planned):
            if run.status in wanted:
                table.add_row(str(i), run.status, run.check.run_id, with_last_error(run.status, run.check.run_dir, run.check.detail))
        console.print(table)
    console.print(f"{len(planned)} runs: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
    if a.json_out:
        from prove_lightning.io import atomic_write_json

        atomic_write_json(
            a.json_out,
            {
                "overrides": a.overrides,
                "counts": counts,
                "runs": [
                    {"overrides": list(r.overrides), "run_id": r.check.run_id, "run_dir": str(r.check.run_dir), "status": r.status, "detail": r.check.detail}
                    for r in planned
                ],
            },
        )
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
