"""Evaluation: confusion-matrix metrics, native-resolution inference, test sets, the results store.

Names are imported lazily so that reading results (pandas only) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "compute_metrics": "metrics",
    "confusion_matrix": "metrics",
    "metrics_from_confusion": "metrics",
    "read_results": "results",
    "ResultsStore": "results",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"prove_lightning.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'prove_lightning.evaluation' has no attribute '{name}'")
