# Two commands for a fresh machine (see README.md):
#   make labs   set up the environment and run every lab (the main job)
#   make test   set up the environment and run the test suite (what CI runs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup engine labs test lint clean-runs

setup: $(VENV)/.installed

# pip, not uv: pip takes torch from the local wheel cache; uv would download ~3 GB.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name mllab --display-name "Python 3.11 (mllab)"
	touch $@

# Docker: use the engine that answers, or install/start Debian's docker.io when root.
engine:
	docker/engine/ensure-engine

labs: setup
	-docker/engine/ensure-engine
	$(BIN)/mllab labs run $(if $(ONLY),--only $(ONLY)) $(if $(OUT),--out $(OUT))

test: setup
	$(BIN)/pytest -ra $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check mllab tests benchmarks
	$(BIN)/ruff format --check mllab tests benchmarks

clean-runs:
	rm -rf runs
