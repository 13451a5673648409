# Quick start on a fresh Debian bookworm machine:
#   make demo   -- install everything needed (idempotent) and run the demo on the offline defaults
#   make test   -- install everything needed (idempotent) and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/demo

.PHONY: setup demo test test-slow clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/lamsc demo --out $(OUT)

test: setup
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m "slow"

clean:
	rm -rf out .pytest_cache
