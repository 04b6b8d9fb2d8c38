"""prove analyze NAME: one study's analysis; a table, CSV + PNG under findings/<NAME>/, or --json.

    prove analyze noise                         # default stages from conf/findings/default.yaml (noise vs s1)
    prove analyze ratio --stage s1_ratio        # reference stages completed from the config
    prove analyze cross_stage --stage s1 --stage cg
    prove analyze quality --quality fid.csv --json
    prove analyze scratch_vs_pretrained --results rows.csv --json

Analyses: ratio, noise, extended, combination, scratch_vs_pretrained, cross_stage, domain_gap, quality,
batch_size, loss (definitions and JSON keys in each module of findings/analyses/ and the README).
Every gain gets a 95% paired-bootstrap interval over test images and a p-value (the tests' per-image
matrices are loaded first; n/a / null where a test kept none); `sig` marks ns where the interval holds 0.
"""

from __future__ import annotations

import argparse
import json

HELP = "one study's analysis (ratio, noise, extended, combination, scratch_vs_pretrained, ...): table, CSV, PNG, --json"


def main(argv: list[str]) -> int:
    from prove_lightning.findings.analyses import ANALYSES
    from prove_lightning.findings.analyses.base import default_pairs, markdown
    from prove_lightning.findings.outputs import build_analysis
    from prove_lightning.findings.session import add_common, open_session

    p = argparse.ArgumentParser(prog="prove analyze", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(ANALYSES), help="the analysis")
    p.add_argument("--stage", action="append", default=None, help="study stage, then reference stages (repeatable); default from the config")
    p.add_argument("--quality", default=None, metavar="CSV", help="quality: the generative-quality metrics CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list of them when the defaults name several stage pairs)")
    add_common(p)
    a = p.parse_args(argv)
    s = open_session(a)
    results = [build_analysis(s, a.name, pair, {"quality": a.quality}) for pair in default_pairs(s.cfg, a.name, a.stage)]
    if a.json:
        objs = [json.loads(r.to_json()) for r in results]
        print(json.dumps(objs[0] if len(objs) == 1 else objs, indent=1))
        return 0
    for r in results:
        print(f"== {r.name} ({' vs '.join(r.stages)})")
        for n in r.notes:
            print(f"  note: {n}")
        for tname, t in r.tables.items():
            if tname != "cells" or len(r.tables) == 1:
                print(f"\n{tname}:\n" + markdown(t).rstrip())
        print("\nfigures: " + (", ".join(str(f) for f in r.figures) or "none"))
        print(f"wrote: {s.out / r.name / '_'.join(r.stages)}\n")
    return 0
