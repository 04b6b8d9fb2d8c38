# Two commands do all set-up: `make demo` (the ToyCity study) and `make test` (the whole suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1
export PYTHONUNBUFFERED := 1

.PHONY: env demo test clean

env: $(STAMP)

# torch/torchvision come pinned from this machine's local wheels first, so nothing pulls another build.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: env
	$(PY) -m prove_lightning.train -m sweep=demo
	$(PY) -m prove_lightning.cli results --stage demo

test: env
	$(PY) -m pytest

clean:
	rm -rf outputs multirun/* .cache
