# Two commands do all set-up: `make demo` (the ToyCity study) and `make test` (the whole suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1
export PYTHONUNBUFFERED := 1

.PHONY: env demo test clean slurm chromium

# Debian packages of the test suite's real single-node SLURM cluster (tests/slurm/cluster.sh starts it).
SLURM_PKGS := munge slurmctld slurmd slurm-client slurmdbd mariadb-server
SLURM_BINS := munged mungekey slurmctld slurmd slurmdbd sbatch sacct scontrol mariadbd mariadb-install-db

env: $(STAMP)

# torch/torchvision come pinned from this machine's local wheels first, so nothing pulls another build.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,mlflow,wandb]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: env
	$(PY) -m prove_lightning.train -m sweep=demo
	$(PY) -m prove_lightning.cli results --stage demo
	$(PY) -m prove_lightning.cli leaderboard --stage demo | sed '/^wrote: /d'
	$(PY) -m prove_lightning.cli report --stage demo

test: env slurm chromium
	$(PY) -m pytest

# Installs SLURM + MariaDB when missing (needs root: CI runs as root); a no-op when present.
# PROVE_SKIP_SLURM=1 skips the install and the SLURM tests (they are then reported as skipped).
slurm:
	@if [ "$${PROVE_SKIP_SLURM:-0}" = 1 ]; then echo "slurm: skipped (PROVE_SKIP_SLURM=1)"; exit 0; fi; \
	missing=""; for b in $(SLURM_BINS); do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "slurm: missing$$missing; run 'sudo make slurm', or PROVE_SKIP_SLURM=1 make test" >&2; exit 1; fi; \
	echo "slurm: installing $(SLURM_PKGS) (about a minute)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SLURM_PKGS) >/dev/null

# Headless Chromium for the report test (tests/test_findings_report.py); needs root like slurm.
# PROVE_SKIP_CHROMIUM=1 skips the install and that test (reported as skipped).
chromium:
	@if [ "$${PROVE_SKIP_CHROMIUM:-0}" = 1 ]; then echo "chromium: skipped (PROVE_SKIP_CHROMIUM=1)"; exit 0; fi; \
	if command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "chromium: missing; run 'sudo make chromium', or PROVE_SKIP_CHROMIUM=1 make test" >&2; exit 1; fi; \
	echo "chromium: installing (headless browser for the report test)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

clean:
	rm -rf outputs multirun/* .cache
