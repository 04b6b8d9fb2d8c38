"""Cluster launchers that submitit does not ship (LSF)."""
