"""The HTML report of one stage: tracker summary, leaderboard with intervals, every analysis with data.

One static page, self-contained (CSS inline, figures embedded as data: URIs, no script, nothing fetched), so it
opens offline, attaches to a mail and survives being copied. The figures are also written beside it.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from prove_lightning.findings import tables
from prove_lightning.findings.analyses import ANALYSES, Result
from prove_lightning.findings.analyses.base import default_pairs, is_p
from prove_lightning.findings.analyses.intervals import compact
from prove_lightning.findings.outputs import Board
from prove_lightning.io import atomic_write_text

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:13px}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}h2{border-bottom:2px solid #ddd;margin-top:2em}"""


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def _table(df: pd.DataFrame, max_rows: int = 200) -> str:
    if df is None or df.empty:
        return '<p class="note">(no rows)</p>'
    more = f'<p class="note">first {max_rows} of {len(df)} rows; all rows in the CSV</p>' if len(df) > max_rows else ""
    p_cols = {c: (lambda v: "n/a" if v != v else f"{v:.3f}") for c in df.columns if is_p(c) and pd.api.types.is_float_dtype(df[c])}
    return df.head(max_rows).to_html(index=False, float_format=lambda v: f"{v:.2f}", na_rep="n/a", border=0, formatters=p_cols) + more


def analyses_for(stage: str, cfg: dict) -> list[tuple[str, list[str]]]:
    """Each analysis with the stage lists it runs on for this stage: its default pairs starting with the stage,
    else the stage with its reference stages (analyses comparing two stages need a second one: skipped)."""
    out = []
    for name in sorted(ANALYSES):
        pairs = [p for p in default_pairs(cfg, name, None) if p[0] == stage] if cfg.get("analyses", {}).get(name) else []
        if not pairs and name not in ("cross_stage", "scratch_vs_pretrained", "quality"):
            pairs = default_pairs(cfg, name, [stage])
        out += [(name, p) for p in pairs]
    return out


def render(stage: str, board: Board, results: Sequence[Result], track: dict | None, notes: Sequence[str] = ()) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>prove findings: {html.escape(stage)}</title>",
             f"<style>{CSS}</style></head><body><h1>Findings of stage {html.escape(stage)}</h1>",
             f"<p class='note'>generated {time.strftime('%Y-%m-%d %H:%M:%S')}</p>"]
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in notes]
    parts.append("<h2>Tracker</h2>")
    if track is None:
        parts.append("<p class='note'>no sweep to track (pass --sweep OVERRIDES)</p>")
    else:
        parts.append(f"<p class='note'>{html.escape(track['what'])}</p>" + _table(pd.DataFrame([track["counts"]])) + _table(pd.DataFrame(track["by_model"])))
    parts.append("<h2>Leaderboard</h2>")
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in board.notes]
    parts.append(_table(tables.display(board.tables["leaderboard"])))
    if board.figure is not None:
        parts.append(_img(board.figure))
    for by in ("dataset", "model", "family", "domain"):
        t = board.tables.get(f"by_{by}")
        if t is not None and len(t) and t[by].nunique() > 1:
            parts.append(f"<h3>per {by}</h3>" + _table(tables.display(t, (by,))))
    for r in results:
        parts.append(f"<h2>Analysis: {html.escape(r.name)} ({html.escape(' vs '.join(r.stages))})</h2>")
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in r.notes]
        for tname, t in r.tables.items():
            parts.append(f"<h3>{html.escape(tname)}</h3>" + _table(compact(t) if t is not None and not t.empty else t))
        parts += [_img(f) for f in r.figures]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(out_dir: Path, stage: str, page: str) -> Path:
    path = Path(out_dir) / f"report_{stage}.html"
    atomic_write_text(path, page)
    return path
