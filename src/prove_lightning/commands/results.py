"""prove results: read the results store back, as per-domain tables or raw rows.

    prove results --stage s1                          final checkpoints, mIoU per domain (saved to tables/)
    prove results --stage s1 --metric mAcc --all-steps
    prove results --run 's1/gen_*/bdd10k/*' --domain night --domain foggy --rows
    prove results --test-dataset acdc --csv acdc_rows.csv
    prove results --rebuild                           recreate results.csv from the runs' test/step_N/*.json records
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "per-domain tables and filtered rows from the results store"


def main(argv: list[str]) -> int:
    from prove_lightning.errors import ConfigError

    p = argparse.ArgumentParser(prog="prove results", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-root", default=None, help="root holding results.csv (default: $PROVE_OUTPUT_ROOT or ./outputs)")
    p.add_argument("--stage", action="append", default=None, help="only this stage (repeatable), e.g. demo, s1")
    p.add_argument("--run", action="append", default=None, help="only run ids matching this glob (repeatable), e.g. 's1/baseline/*'")
    p.add_argument("--domain", action="append", default=None, help="only this domain (repeatable); 'all' = the whole test set")
    p.add_argument("--test-dataset", action="append", default=None, help="only this test dataset (repeatable)")
    p.add_argument("--model", action="append", default=None, help="only this model (repeatable)")
    p.add_argument("--step", action="append", type=int, default=None, help="only this checkpoint step (repeatable)")
    p.add_argument("--metric", default="mIoU", help="mIoU, mAcc, aAcc, fwIoU, or a per-class column such as iou_road")
    p.add_argument("--all-steps", action="store_true", help="every tested checkpoint (a convergence table), not only each run's last")
    p.add_argument("--rows", action="store_true", help="print the matching rows (key columns + metric) instead of the pivot table")
    p.add_argument("--csv", default=None, metavar="PATH", help="write every column of the matching rows to PATH")
    p.add_argument("--no-save", action="store_true", help="do not write tables/<name>.{csv,md} under the output root")
    p.add_argument("--rebuild", action="store_true", help="recreate results.csv from the per-test JSON files under the run directories (the old one is kept as results.csv.before-rebuild-<time>)")
    a = p.parse_args(argv)
    from prove_lightning.evaluation.results import STORE_NAME  # pandas only, no torch

    root = Path(a.output_root or os.environ.get("PROVE_OUTPUT_ROOT", "outputs"))
    if a.rebuild:
        from prove_lightning.evaluation.rebuild import rebuild_store

        if not root.is_dir():
            raise ConfigError(f"--rebuild: no output root at {root}; pass --output-root or set PROVE_OUTPUT_ROOT")
        out = rebuild_store(root)
        print(f"rebuilt {out['store']}: {out['rows']} rows from {out['records']} test records" + (f"; the old store is {out['backup']}" if out["backup"] else ""))
        for line in out["skipped"]:
            print(f"  skipped {line}")
        return 1 if out["skipped"] else 0
    if not (root / STORE_NAME).is_file():
        raise ConfigError(f"no results store at {root / STORE_NAME}; pass --output-root or set PROVE_OUTPUT_ROOT")

    import pandas as pd

    from prove_lightning.evaluation.results import read_results
    from prove_lightning.io import atomic_write_text
    from prove_lightning.report import print_table

    filters = dict(stage=a.stage, run=a.run, domain=a.domain, test_dataset=a.test_dataset, model=a.model, step=a.step)
    df = read_results(root, final_only=not a.all_steps, **filters)
    if a.metric not in df.columns and len(df):
        raise ConfigError(f"--metric {a.metric}: no such column; try mIoU, mAcc, aAcc, fwIoU or iou_<class>")
    if a.csv:
        atomic_write_text(a.csv, df.to_csv(index=False))
        print(f"wrote {len(df)} rows to {a.csv}")
    if a.rows:
        cols = ["run_id", "step", "test_dataset", "domain", "n_images", a.metric]
        with pd.option_context("display.width", 220, "display.max_rows", 500, "display.max_colwidth", 80):
            print(df[cols].to_string(index=False) if len(df) else "no matching rows")
        return 0
    filters.pop("stage")
    print_table(root, a.stage, a.metric, save=not a.no_save, final_only=not a.all_steps, **filters)
    return 0
