# mindmiles: two commands for a newcomer.
#   make demo   set up the environment from the lock file, build a synthetic clinic and run the pipeline
#   make test   set up the environment from the lock file and run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
LOCKS := requirements-bootstrap.lock requirements.lock pyproject.toml
PACKAGES := pipelines ingest transform schemas warehouse clinic report synthetic
# the optional C extension the editable install compiles: a change to it reinstalls (recompiles)
C_SOURCES := ingest/_fitwalk.c
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) $(C_SOURCES) | cksum | cut -d' ' -f1)
# `make lock` keeps every pin it can (uv prefers the versions already in the output file);
# `make lock UPGRADE=1` moves every pin to the newest release that satisfies pyproject.toml.
LOCK_FLAGS := --extra dev --generate-hashes --python-version 3.11 --custom-compile-command "make lock" \
	$(if $(UPGRADE),--upgrade)

.PHONY: demo test lint fmt docs bench fuzz clean env lock

env: $(STAMP)

# Installed exactly as locked, with no resolution at install time: the venv's own pip (any
# version) installs one hash-checked uv wheel with --no-deps; uv installs requirements.lock as it
# stands (sync: nothing added, nothing left over, every hash checked; the one source-only package
# is built with the locked setuptools); the project goes in editable with no build isolation.
# Everything is compiled to bytecode once, here: where PYTHONDONTWRITEBYTECODE is set (as on the
# CI machine) Python would otherwise compile every module it imports from source, every process
# (2.6 s of imports per `mindmiles` command instead of 0.9 s).
$(STAMP): $(LOCKS) $(C_SOURCES)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: \
		--require-hashes -r requirements-bootstrap.lock
	$(UV) pip sync --quiet --python $(PY) --require-hashes --strict --compile-bytecode \
		--build-constraints requirements.lock requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	$(UV) pip check --quiet --python $(PY)
	$(PY) -m compileall -q -j 0 $(PACKAGES) > /dev/null
	@rm -f $(VENV)/.installed-*
	@touch $@

lock:
	@test -x $(UV) || { test -x $(PY) || $(PYTHON) -m venv $(VENV); \
		$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: \
		--require-hashes -r requirements-bootstrap.lock; }
	$(UV) pip compile --quiet pyproject.toml $(LOCK_FLAGS) -o requirements.lock

demo: $(STAMP)
	$(VENV)/bin/mindmiles demo --dir demo-clinic

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) bench/bench_fit.py

fuzz: $(STAMP)
	$(PY) bench/fuzz.py --cases 20000 --seed $${SEED:-1}

docs: $(STAMP)
	$(PY) -m warehouse.dictionary

clean:
	rm -rf $(VENV) demo-clinic .pytest_cache .mypy_cache .ruff_cache
