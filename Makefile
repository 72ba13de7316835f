# Commands for a fresh machine (see README.md):
#   make student   set up, make the student editions into workspace/ and open JupyterLab there
#                  (make student LANG=ru: the Russian edition)
#   make labs   set up the environment and run every lab (the main job)
#   make test   set up the environment and run the test suite (what CI runs)
#   make test-quick   the fast tier: no Docker, no notebooks (a developer's loop)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
WORKSPACE ?= workspace
# JupyterLab settings overrides: no news, no update checks, no extension manager (offline)
OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
NBGRADER_SERVER_EXTENSIONS := $(addprefix nbgrader.server_extensions.,formgrader assignment_list \
	course_list validate_assignment)

.PHONY: setup engine engine-if-any student labs test test-quick lint clean-runs

setup: $(VENV)/.installed $(OVERRIDES)

# pip, not uv: pip takes torch from the local wheel cache; uv would download ~3 GB.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, every kernel, server and
	# test process would compile the modules it imports again (every lab ~15 % slower). pip
	# compiles on one core as it installs; compileall uses every core (-j 0), 2 cores: 21 s
	# instead of 38 s. Some packages ship files that are not Python 3.11 (torch's tests for
	# 3.12 syntax): they fail to compile and are skipped, as pip skips them.
	# Meanwhile docker/prebuild-bases builds the two Debian images the labs need first, when an
	# engine answers (pip mostly waits on package indexes; mmdebstrap works on the CPU).
	docker/prebuild-bases $(VENV)/prebuild.log & prebuild=$$!; \
	$(BIN)/pip install --quiet --no-compile -e '.[dev]' && \
	{ $(BIN)/python -m compileall -qq -j 0 $(VENV)/lib mllab || true; }; status=$$?; \
	wait $$prebuild; exit $$status
	# in a scratch TMPDIR: ipykernel's install leaves its empty tmp*_kernels folder behind
	scratch=$$(mktemp -d) && TMPDIR=$$scratch $(BIN)/python -m ipykernel install --sys-prefix \
		--name mllab --display-name "Python 3.11 (mllab)"; status=$$?; rm -rf "$$scratch"; \
		exit $$status
	# nbgrader is the instructors' command-line tool (mllab labs student/grade): its JupyterLab
	# menus and server extensions (formgrader, assignment exchange) would only confuse students
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader
	$(BIN)/jupyter server extension disable --sys-prefix $(NBGRADER_SERVER_EXTENSIONS)
	touch $@

$(OVERRIDES): jupyter/overrides.json $(VENV)/.installed
	install -D -m 644 $< $@

# Docker: use the engine that answers, or install/start Debian's docker.io when root.
engine:
	docker/engine/ensure-engine

# The same before a set-up that may use it (docker/prebuild-bases); a failure is reported and
# the labs that need no engine still run.
engine-if-any:
	-docker/engine/ensure-engine

# JupyterLab refuses to start as root without --allow-root (a course VM, a container);
# LAB_ARGS: more options of yours for `jupyter lab` (--port=8899, --no-browser, ...).
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

# The edition's language: `make student LANG=ru` for the Russian edition. LANG is also the
# locale variable (en_US.UTF-8, C.UTF-8, ...): only the values ru and en choose an edition.
STUDENT_LANG ?= $(if $(filter ru en,$(LANG)),$(LANG),en)
# `LANG=ru` is no locale: the commands of the target get a real one (UTF-8) instead
STUDENT_LOCALE := $(if $(filter ru en,$(LANG)),LANG=C.UTF-8)

# The student's path: nbgrader's student editions in a git-ignored workspace, opened in
# JupyterLab there, so that running and saving a lab never writes labs/. Work already in the
# workspace is kept (mllab labs student --force replaces it).
student: engine-if-any setup
	$(STUDENT_LOCALE) $(BIN)/mllab labs student --out $(WORKSPACE) --lang $(STUDENT_LANG)
	$(STUDENT_LOCALE) $(BIN)/jupyter lab --ServerApp.root_dir=$(WORKSPACE) $(ROOT_ARGS) $(LAB_ARGS)

labs: engine-if-any setup
	$(BIN)/mllab labs run $(if $(ONLY),--only $(ONLY)) $(if $(OUT),--out $(OUT))

# Everything: every lab executed once, every image built once (needs Docker; CI runs this);
# the 30 slowest tests are listed at the end. Two workers: the engine's tests one after another
# in one, the rest beside them (tests/conftest.py says which run together); TEST_WORKERS=0
# runs everything in this process.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/pytest -ra --durations=30 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

# The developer's loop: no Docker, no lab execution, no image build (< 3 minutes on 2 cores).
test-quick: setup
	$(BIN)/pytest -ra -m "not docker and not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/ruff check mllab tests benchmarks labs
	$(BIN)/ruff format --check mllab tests benchmarks labs

clean-runs:
	rm -rf runs
