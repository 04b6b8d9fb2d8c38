"""Compute and write what a command shows: a stage's leaderboard (+ breakdowns, bar chart) or one analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prove_lightning.findings import plots, tables
from prove_lightning.findings.analyses import Context, Result, run_analysis
from prove_lightning.findings.analyses.base import bootstrap_needs
from prove_lightning.findings.leaderboard import BREAKDOWNS, leaderboard
from prove_lightning.findings.session import Session


@dataclass
class Board:
    stage: str
    tables: dict[str, pd.DataFrame]
    files: list[Path] = field(default_factory=list)
    figure: Path | None = None
    notes: list[str] = field(default_factory=list)


def build_board(s: Session, stage: str) -> Board:
    """The stage's leaderboard and breakdowns, written to <out>/leaderboard/<stage>/ (CSV, Markdown, PNG)."""
    notes = [*s.rows.notes, s.load_bootstrap([stage])]
    t = leaderboard(s.df, stage, s.cfg, s.boot)
    out = s.out / "leaderboard" / stage
    b = Board(stage, t, notes=notes)
    main = t["leaderboard"]
    unmatched = int(main["n_unmatched"].sum()) if len(main) else 0
    if unmatched:
        b.notes.append(f"{unmatched} cells have no baseline row (dataset, model, test set, domain, loss) and are left out of the means")
    b.files += tables.write(main, out, "leaderboard")
    for name in BREAKDOWNS:
        b.files += tables.write(t[f"by_{name}"], out, f"by_{name}", (name,))
    cells = t["cells"]
    from prove_lightning.io import atomic_write_text

    atomic_write_text(out / "cells.csv", cells.to_csv(index=False))
    b.files.append(out / "cells.csv")
    if len(main):
        b.figure = plots.gain_bars(main, out / "leaderboard.png", f"{stage}: gain vs baseline (95% paired-bootstrap interval)")
        b.files.append(b.figure)
    return b


def board_text(b: Board) -> str:
    lines = [f"leaderboard of stage {b.stage} (mIoU, final checkpoints, matched cells; gain in points vs baseline)"]
    lines += [f"  note: {n}" for n in b.notes]
    lines += ["", tables.text(b.tables["leaderboard"]), "", "sig: '' = 95% interval excludes 0, ns = it contains 0, n/a = no interval"]
    return "\n".join(lines)


def build_analysis(s: Session, name: str, stages: list[str], options: dict | None = None) -> Result:
    """Run one analysis after bootstrapping every test it compares (its stages, their reference stages, and
    for ``extended`` every tested step and the source stage), so its gains get intervals."""
    wanted, all_steps = bootstrap_needs(name, stages)
    boot_note = s.load_bootstrap(wanted, all_steps)
    ctx = Context(s.df, s.cfg, s.out, s.boot, options or {})
    res = run_analysis(name, ctx, stages)
    res.notes = [*s.rows.notes, boot_note, *res.notes]
    return res
