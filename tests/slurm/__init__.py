"""Helpers for tests that launch real jobs: the test SLURM cluster, job environments, in-job callbacks."""
