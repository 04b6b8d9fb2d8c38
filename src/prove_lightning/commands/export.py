"""prove export: copy a stage's findings (rows, leaderboard, analyses) into a publication data folder.

    prove export --stage s1 --to paper/data/           # results/ leaderboard/ ablation/ metadata/ + MANIFEST.json
    prove export --stage s1 --stage cg --to paper/data/

Tables and figures are (re)computed as `prove leaderboard` / `prove analyze` do, then copied; re-exporting
unchanged findings changes nothing (MANIFEST.json included).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "copy a stage's CSVs and figures into a publication data folder with MANIFEST.json (idempotent)"


def main(argv: list[str]) -> int:
    from prove_lightning.config import CONF_DIR
    from prove_lightning.findings.export import export
    from prove_lightning.findings.outputs import build_analysis, build_board
    from prove_lightning.findings.report import analyses_for
    from prove_lightning.findings.session import add_common, open_session
    from prove_lightning.io import atomic_write_text
    from prove_lightning.runs.version import code_version

    p = argparse.ArgumentParser(prog="prove export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", action="append", required=True, help="stage to export (repeatable)")
    p.add_argument("--to", required=True, metavar="DIR", help="the publication data folder")
    p.add_argument("--quality", default=None, metavar="CSV", help="generative-quality metrics for the quality analysis")
    add_common(p)
    a = p.parse_args(argv)
    s = open_session(a)
    files: list[tuple[Path, str]] = []
    for stage in a.stage:
        rows = s.df[s.df["stage"] == stage].drop(columns=["label"])
        src = s.out / "export" / f"{stage}_results.csv"
        atomic_write_text(src, rows.to_csv(index=False))
        files.append((src, f"results/{stage}_results.csv"))
        board = build_board(s, stage)
        files += [(f, f"leaderboard/{stage}/{f.name}") for f in board.files]
        for name, stages in analyses_for(stage, s.cfg):
            r = build_analysis(s, name, stages, {"quality": a.quality})
            if r.empty:
                continue
            folder = s.out / name / "_".join(stages)
            files += [(f, f"ablation/{name}/{'_'.join(stages)}/{f.name}") for f in sorted(folder.iterdir()) if f.is_file()]
    files.append((CONF_DIR / "findings" / "default.yaml", "metadata/findings_config.yaml"))
    if a.findings_config:
        files[-1] = (Path(a.findings_config), "metadata/findings_config.yaml")
    seen: dict[str, Path] = {}
    for f, rel in files:
        seen[rel] = f
    m = export([(f, rel) for rel, f in seen.items()], Path(a.to), code_version()["code_version"])
    print(f"exported {m['n_files']} files to {a.to} (manifest {Path(a.to) / 'MANIFEST.json'})")
    return 0
