"""Shared set-up of the findings commands: options, rows (store or --results CSV), exclusions, bootstrap."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from prove_lightning.findings.bootstrap import Bootstrap
from prove_lightning.findings.config import baseline_stages, findings_config
from prove_lightning.findings.rows import Rows, exclude, final_rows, load_rows


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-root", default=None, help="root holding results.csv and the runs (default: $PROVE_OUTPUT_ROOT or ./outputs)")
    p.add_argument("--results", default=None, metavar="CSV", help="read these rows (a CSV in the results store's schema) instead of the store")
    p.add_argument("--out", default=None, metavar="DIR", help="where tables and figures go (default: <output root>/findings)")
    p.add_argument("--findings-config", default=None, metavar="YAML", help="settings (default conf/findings/default.yaml)")
    p.add_argument("--include-excluded", action="store_true", help="keep the rows the config excludes (e.g. hrnet)")
    p.add_argument("--resamples", type=int, default=None, help="bootstrap resamples (default from the config: 1000)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default from the config)")


@dataclass
class Session:
    rows: Rows
    cfg: dict
    out: Path
    boot: Bootstrap

    @property
    def df(self) -> pd.DataFrame:
        return self.rows.df

    def load_bootstrap(self, stages: Sequence[str], all_steps: bool = False) -> str:
        """Bootstrap the final tests (every tested step with ``all_steps``) of these stages and their baseline
        stages; returns a sentence saying what was found."""
        wanted = {s for st in stages for s in baseline_stages(st)}
        tests = self.df[self.df["stage"].isin(wanted)]
        tests = tests if all_steps else final_rows(tests)
        self.boot.add_tests(tests, self.rows.output_root)
        n = tests.drop_duplicates(["run_id", "step", "test_dataset"])
        keys = set(zip(n["run_id"], n["step"].astype(int), n["test_dataset"]))
        miss = sorted(k for k in keys if k in self.boot.missing)
        if not keys:
            return "intervals: no tests"
        if not miss:
            return f"intervals: paired bootstrap over test images, {self.boot.resamples} resamples, seed {self.boot.seed} ({len(keys)} tests with per-image matrices)"
        return (f"intervals: per-image confusion matrices missing for {len(miss)} of {len(keys)} tests (e.g. {miss[0][0]} step {miss[0][1]} {miss[0][2]}); "
                "lines using them show no interval (n/a), gains are the store's point values")


def open_session(a: argparse.Namespace) -> Session:
    cfg = findings_config(a.findings_config)
    root = a.output_root or os.environ.get("PROVE_OUTPUT_ROOT")
    if a.results is None and root is None:
        root = "outputs"
    rows = load_rows(root, a.results)
    rows = exclude(rows, cfg.get("exclude", []), a.include_excluded)
    b = cfg.get("bootstrap", {})
    boot = Bootstrap(int(a.resamples or b.get("resamples", 1000)), int(a.seed if a.seed is not None else b.get("seed", 0)), float(b.get("level", 0.95)))
    out = Path(a.out) if a.out else Path(root or Path(a.results).parent) / "findings"
    return Session(rows, cfg, out, boot)
