"""prove results: print (and save) per-domain tables from the results store."""

from __future__ import annotations

import argparse
import os

HELP = "per-domain tables from the results store"


def main(argv: list[str]) -> int:
    from prove_lightning.report import print_table

    p = argparse.ArgumentParser(prog="prove results", description=__doc__)
    p.add_argument("--output-root", default=None, help="root holding results.csv (default: $PROVE_OUTPUT_ROOT or ./outputs)")
    p.add_argument("--stage", default=None, help="only this stage (e.g. demo, s1)")
    p.add_argument("--metric", default="mIoU", help="mIoU, mAcc, aAcc or fwIoU")
    p.add_argument("--no-save", action="store_true", help="print only; do not write tables/ CSV and Markdown")
    a = p.parse_args(argv)
    root = a.output_root or os.environ.get("PROVE_OUTPUT_ROOT", "outputs")
    print_table(root, a.stage, a.metric, save=not a.no_save)
    return 0
