"""Evaluation: confusion-matrix metrics, native-resolution inference, the results store."""

from prove_lightning.evaluation.metrics import compute_metrics, confusion_matrix, metrics_from_confusion

__all__ = ["compute_metrics", "confusion_matrix", "metrics_from_confusion"]
