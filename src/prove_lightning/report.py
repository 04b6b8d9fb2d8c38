"""Per-domain tables from the results store: printed, and saved as CSV and Markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prove_lightning.data.domains import ADVERSE_DOMAINS, DOMAINS
from prove_lightning.evaluation.results import read_results
from prove_lightning.io import atomic_write_text


def domain_table(df: pd.DataFrame, stage: str | None = None, metric: str = "mIoU", final_only: bool = True) -> pd.DataFrame:
    """Rows = (stage, strategy, augment, dataset, model, test set), columns = domains (+ all), values = metric."""
    if stage is not None:
        df = df[df["stage"] == stage]
    if df.empty:
        return pd.DataFrame()
    if final_only:
        df = df[df["step"] == df.groupby("run_id")["step"].transform("max")]
    index = ["stage", "strategy", "augment", "dataset", "model", "ratio", "test_dataset"]
    table = df.pivot_table(index=index, columns="domain", values=metric, aggfunc="first")
    cols = [d for d in (*DOMAINS, "all") if d in table.columns]
    table = table[cols]
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


def print_table(output_root: str | Path, stage: str | None = None, metric: str = "mIoU", save: bool = True) -> pd.DataFrame:
    df = read_results(output_root)
    table = domain_table(df, stage, metric)
    if table.empty:
        print(f"no results in {Path(output_root) / 'results.csv'}" + (f" for stage '{stage}'" if stage else ""))
        return table
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"\n{metric} per test domain (final checkpoints{', stage ' + stage if stage else ''}):\n")
        print(table.to_string())
    if save:
        paths = save_table(table, Path(output_root) / "tables", f"{stage or 'all'}_{metric}_per_domain")
        print("\nsaved: " + ", ".join(str(p) for p in paths))
    return table
