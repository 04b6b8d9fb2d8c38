"""Per-domain tables from the results store: printed, and saved as CSV and Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from prove_lightning.data.domains import ADVERSE_DOMAINS, DOMAINS
from prove_lightning.evaluation.results import STORE_NAME, filter_results, read_results
from prove_lightning.io import atomic_write_text

METRICS = ("mIoU", "mAcc", "aAcc", "fwIoU")
INDEX = ["stage", "strategy", "augment", "dataset", "model", "ratio", "test_dataset"]


def domain_table(df: pd.DataFrame, stage: str | None = None, metric: str = "mIoU", final_only: bool = True) -> pd.DataFrame:
    """Rows = (stage, strategy, augment, dataset, model, ratio, test set[, step]), columns = domains (+ all), values = metric.

    ``final_only`` keeps each run's highest tested step; otherwise the step joins the index (a convergence table).
    """
    if metric not in df.columns and not df.empty:
        raise ValueError(f"unknown metric '{metric}'; the store has {[c for c in df.columns if c in METRICS or c.startswith(('iou_', 'acc_'))]}")
    df = filter_results(df, stage=stage, final_only=final_only)
    if df.empty:
        return pd.DataFrame()
    index = INDEX if final_only else [*INDEX, "step"]
    table = df.pivot_table(index=index, columns="domain", values=metric, aggfunc="first", dropna=False)
    cols = [d for d in (*DOMAINS, "all") if d in table.columns]
    table = table[cols].dropna(how="all")
    if all(d in table.columns for d in ADVERSE_DOMAINS):
        # unweighted mean of the four adverse domains' mIoU (each domain counts once, whatever its size)
        table = table.assign(adverse_mean=table[list(ADVERSE_DOMAINS)].mean(axis=1))
    return table.round(2)


def save_table(table: pd.DataFrame, out_dir: str | Path, name: str) -> list[Path]:
    out_dir = Path(out_dir)
    csv, md = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    atomic_write_text(csv, table.to_csv())
    atomic_write_text(md, table.to_markdown() if _has_tabulate() else table.to_string())
    return [csv, md]


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def print_table(
    output_root: str | Path,
    stage: str | list[str] | None = None,
    metric: str = "mIoU",
    save: bool = True,
    final_only: bool = True,
    **filters: Any,
) -> pd.DataFrame:
    """Print the per-domain table of the (filtered) store; with ``save`` also write tables/<name>.{csv,md}."""
    df = read_results(output_root, stage=stage, **filters)
    table = domain_table(df, None, metric, final_only=final_only)
    stages = [stage] if isinstance(stage, str) else list(stage or [])
    if table.empty:
        given = {k: v for k, v in {"stage": stage, **filters}.items() if v is not None}
        print(f"no results in {Path(output_root) / STORE_NAME}" + (f" matching {given}" if given else ""))
        return table
    stage = "+".join(stages) if stages else None
    with pd.option_context("display.width", 220, "display.max_columns", 40):
        which = "final checkpoints" if final_only else "every checkpoint"
        print(f"\n{metric} per test domain ({which}{', stage ' + stage if stage else ''}):\n")
        print(table.to_string())
    if save:
        paths = save_table(table, Path(output_root) / "tables", f"{stage or 'all'}_{metric}_per_domain{'' if final_only else '_by_step'}")
        print("\nsaved: " + ", ".join(str(p) for p in paths))
    return table
