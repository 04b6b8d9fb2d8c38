"""Run directories, code version, locks and planning."""
