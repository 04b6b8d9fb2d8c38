"""Orchestration of whole jobs: compose -> :class:`~prove_lightning.runs.spec.RunSpec` -> pre-flight -> build -> fit -> test.

The entry points (train.py, eval.py, the CLI) call these; ``runs/`` (identity, paths, locks, pre-flight) and
``evaluation/`` (metrics, inference, predictions, results store) are the parts they use and never import
each other.
"""
