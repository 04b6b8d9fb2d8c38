"""One analysis per study; :data:`ANALYSES` maps each name to its function (see base.Analysis)."""

from __future__ import annotations

from prove_lightning.findings.analyses.base import ANALYSES, Context, Result, run_analysis

# importing the modules registers them
from prove_lightning.findings.analyses import (  # noqa: F401,E402
    combination,
    cross_stage,
    domain_gap,
    extended,
    noise,
    quality,
    ratio,
    scratch_vs_pretrained,
    variants,
)

__all__ = ["ANALYSES", "Context", "Result", "run_analysis"]
