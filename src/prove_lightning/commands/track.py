"""prove track: every run of a sweep's grid with its status, from run directories and the results store only.

    prove track sweep=s1                       # the Stage-1 grid
    prove track sweep=s1 dataset=bdd10k        # narrowed as `train -m` would be
    prove track sweep=demo --json              # one JSON object (counts, per stage/model/dataset, every run)
    prove track sweep=cg --status failed,locked

Statuses: tested, trained (final checkpoint, not tested), partial (step k of N, last checkpoint), failed (the
job's logs/error.log: its last line), locked (holder host / pid / job, alive or stale), no_generated_images,
missing. Exit status 0 only when every run is tested (usable in scripts), 1 otherwise. Never imports torch.
"""

from __future__ import annotations

import argparse
import json
import os

HELP = "status of every run of a sweep (tested, trained, partial, failed, locked, ...); exit 0 when all tested"


def main(argv: list[str]) -> int:
    from prove_lightning.findings.sweep import sweep_facts
    from prove_lightning.findings.tracker import STATUSES, TestedIndex, counts, run_status, summary

    p = argparse.ArgumentParser(prog="prove track", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="Hydra overrides as for `prove plan` (e.g. sweep=s1 model=pspnet_r50)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--status", default=None, help=f"list only these statuses (comma-separated, of {', '.join(STATUSES)})")
    p.add_argument("-j", "--jobs", type=int, default=min(8, os.cpu_count() or 1), help="processes composing runs (default: up to 8)")
    a = p.parse_args(argv)
    wanted = set(a.status.split(",")) if a.status else set(STATUSES)
    if wanted - set(STATUSES):
        p.error(f"unknown status {sorted(wanted - set(STATUSES))}; use {', '.join(STATUSES)}")
    facts = sweep_facts(a.overrides, workers=a.jobs)
    indexes: dict[str, TestedIndex] = {}
    statuses = []
    for f, root, stale in facts:
        if root not in indexes:
            indexes[root] = TestedIndex(root)
        statuses.append(run_status(f, indexes[root], stale))
    all_tested = bool(statuses) and all(s.status == "tested" for s in statuses)
    if a.json:
        print(json.dumps(summary(statuses), indent=1, default=str))
        return 0 if all_tested else 1
    import pandas as pd

    runs = pd.DataFrame([{"status": s.status, "run": s.run_id, "detail": s.detail} for s in statuses if s.status in wanted])
    with pd.option_context("display.width", 250, "display.max_colwidth", 140, "display.max_rows", 10_000):
        if len(runs):
            print(runs.to_markdown(index=False, tablefmt="simple"))
        for by in ("stage", "model", "dataset"):
            print(f"\nper {by}:\n" + counts(statuses, by).to_markdown(index=False, tablefmt="simple"))
    c = counts(statuses).iloc[0]
    print(f"\n{len(statuses)} runs: " + ", ".join(f"{k} {int(c[k])}" for k in STATUSES))
    return 0 if all_tested else 1
