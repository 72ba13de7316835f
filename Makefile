# Two commands for a fresh machine (see README.md):
#   make labs   set up the environment and run every lab (the main job)
#   make test   set up the environment and run the test suite (what CI runs)
#   make test-quick   the fast tier: no Docker, no notebooks (a developer's loop)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup engine labs test test-quick lint clean-runs

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

# Everything: every lab executed, every image built (needs Docker; CI runs this).
test: setup
	$(BIN)/pytest -ra $(PYTEST_ARGS)

# The developer's loop: no Docker, no lab execution, no image build (< 3 minutes on 2 cores).
test-quick: setup
	$(BIN)/pytest -ra -m "not docker and not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check mllab tests benchmarks labs
	$(BIN)/ruff format --check mllab tests benchmarks labs

clean-runs:
	rm -rf runs
