# softmax-reinforce: `make train` and `make test` set everything up from the lock file.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-from-lock
# The CPU build of torch 2.13.0 lies in /opt/wheels on our machines; pip must see it there,
# or it would fetch a multi-GB CUDA build.
WHEELS := $(wildcard /opt/wheels)
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check $(if $(WHEELS),--find-links $(WHEELS))
ARGS ?=
# pytest-xdist processes for the quick suite (on 2 cores: about 4 min on an AMD EPYC VM, once the slowest process
# tests went to test-slow; 3 processes were slower); 0 runs it in this one
TEST_WORKERS ?= 2

.PHONY: help install train test test-slow test-all lint format benchmark tensorboard lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --no-deps -r requirements.lock
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the exact pins of requirements.lock

# ARGS replaces env=CartPole-v1 (the default env anyway), so an option may come first: ARGS="-m seed=0,1"
train: $(STAMP)  ## train CartPole-v1 with the default config (ARGS="seed=1 ..." gives overrides, -m too)
	$(BIN)/python scripts/train.py $(or $(ARGS),env=CartPole-v1)

test: $(STAMP)  ## the quick suite (slow learning tests excluded), in TEST_WORKERS processes
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(ARGS)

test-slow: $(STAMP)  ## only the slow learning tests
	$(BIN)/python -m pytest -m slow $(ARGS)

test-all: $(STAMP)  ## everything
	$(BIN)/python -m pytest -m "slow or not slow" $(ARGS)

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## ruff format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmark: $(STAMP)  ## speed, score timing, sample efficiency, start-up (ARGS="quick=true": a smoke test)
	$(BIN)/python scripts/benchmark.py $(ARGS)

tensorboard: $(STAMP)  ## open TensorBoard on outputs/ and multirun/
	$(BIN)/tensorboard --logdir_spec outputs:outputs,multirun:multirun --host 127.0.0.1

LOCK_HEADER := \# Exact pins installed by 'make install' (regenerate with 'make lock'). torch is the CPU build.
lock:  ## regenerate requirements.lock from pyproject.toml in a scratch venv
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install $(if $(WHEELS),--find-links $(WHEELS)) "torch==2.13.0" -e ".[dev]"
	.lock-venv/bin/pip freeze --all --exclude-editable > .lock-venv/freeze.txt
	if grep -E "^(nvidia-|triton)" .lock-venv/freeze.txt; then \
	    echo "error: pins of a CUDA torch (above); requirements.lock is unchanged" >&2; rm -rf .lock-venv; exit 1; fi
	{ echo "$(LOCK_HEADER)"; grep -v "^pip==" .lock-venv/freeze.txt | sed -e 's/+cpu//'; } > .lock-venv/requirements.lock
	mv .lock-venv/requirements.lock requirements.lock
	rm -rf .lock-venv

clean:  ## remove the venv and run outputs
	rm -rf $(VENV) outputs multirun runs
