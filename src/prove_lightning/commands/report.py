"""prove report: one static, self-contained HTML page per stage (readable offline).

    prove report --stage demo --out report/              # tracker of sweep=demo, leaderboard, analyses with data
    prove report --stage s1 --stage cg --out report/     # one page each
    prove report --stage noise --sweep "sweep=noise" --out report/
    prove report --stage s1 --results rows.csv --no-track --out report/

The page embeds its figures (also written under --out); tables and figures come from the same code as
`prove leaderboard` and `prove analyze`.
"""

from __future__ import annotations

import argparse
import shlex

HELP = "a self-contained HTML page per stage: tracker, leaderboard with intervals, every analysis with data"


def _track(overrides: list[str]) -> dict:
    from prove_lightning.findings.sweep import sweep_facts
    from prove_lightning.findings.tracker import TestedIndex, run_status, summary

    indexes: dict = {}
    st = []
    for f, root, stale in sweep_facts(overrides):
        st.append(run_status(f, indexes.setdefault(root, TestedIndex(root)), stale))
    s = summary(st)
    s["what"] = f"prove track {' '.join(overrides)}: {len(st)} runs"
    return s


def main(argv: list[str]) -> int:
    from prove_lightning.config import CONF_DIR
    from prove_lightning.findings.outputs import build_analysis, build_board
    from prove_lightning.findings.report import analyses_for, render, write_report
    from prove_lightning.findings.session import add_common, open_session

    p = argparse.ArgumentParser(prog="prove report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", action="append", required=True, help="stage to report (repeatable: one page each)")
    p.add_argument("--sweep", default=None, help="overrides of the sweep to track, quoted (default: sweep=<stage> when conf/sweep/<stage>.yaml exists)")
    p.add_argument("--no-track", action="store_true", help="leave the tracker section out")
    p.add_argument("--quality", default=None, metavar="CSV", help="generative-quality metrics for the quality analysis")
    add_common(p)
    a = p.parse_args(argv)
    s = open_session(a)
    if a.out:
        s.out = __import__("pathlib").Path(a.out)
    for stage in a.stage:
        track = None
        if not a.no_track:
            ovr = shlex.split(a.sweep) if a.sweep else ([f"sweep={stage}"] if (CONF_DIR / "sweep" / f"{stage}.yaml").is_file() else None)
            if ovr is not None:
                if s.rows.output_root is not None and not any(o.startswith("paths.output_root=") for o in ovr):
                    ovr.append(f"paths.output_root={s.rows.output_root}")
                track = _track(ovr)
        board = build_board(s, stage)
        results, notes = [], []
        for name, stages in analyses_for(stage, s.cfg):
            try:
                r = build_analysis(s, name, stages, {"quality": a.quality})
            except Exception as e:  # noqa: BLE001 - one failing analysis must not hide the others; said on the page
                notes.append(f"analysis {name} ({' vs '.join(stages)}) failed: {type(e).__name__}: {e}")
                continue
            if not r.empty:
                results.append(r)
        path = write_report(s.out, stage, render(stage, board, results, track, [*notes]))
        print(f"HTML report: {path.resolve()}  ({len(results)} analyses with data{', tracker of ' + track['what'] if track else ''})")
        for n in notes:
            print(f"  note: {n}")
    return 0
