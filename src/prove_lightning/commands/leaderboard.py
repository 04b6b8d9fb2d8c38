"""prove leaderboard: per strategy, mean mIoU and gain vs baseline over matched cells, with 95 % intervals.

    prove leaderboard --stage s1                   # printed; CSV, Markdown and a bar chart under findings/
    prove leaderboard --stage noise                # baselines from the stage's baseline_stage (s1)
    prove leaderboard --stage s1 --by dataset      # also print a breakdown (dataset, domain, model, family)
    prove leaderboard --stage s1 --results rows.csv

Cells, baselines, seeds, intervals: see the README section "Findings" and findings/leaderboard.py.
"""

from __future__ import annotations

import argparse

HELP = "per-strategy gain vs baseline over matched cells, with paired-bootstrap intervals; CSV, Markdown, PNG"


def main(argv: list[str]) -> int:
    from prove_lightning.findings import tables
    from prove_lightning.findings.outputs import board_text, build_board
    from prove_lightning.findings.session import add_common, open_session

    p = argparse.ArgumentParser(prog="prove leaderboard", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", required=True, help="the study stage, e.g. s1, cg, noise, demo")
    p.add_argument("--by", action="append", default=[], choices=["dataset", "domain", "model", "family"], help="also print this breakdown (repeatable)")
    add_common(p)
    a = p.parse_args(argv)
    s = open_session(a)
    b = build_board(s, a.stage)
    print(board_text(b))
    for by in a.by:
        print(f"\nper {by}:\n" + tables.text(b.tables[f"by_{by}"], (by,)))
    print("\nwrote: " + ", ".join(str(f) for f in b.files))
    return 0
