# mindmiles: two commands for a newcomer.
#   make demo   set up the environment from the lock file, build a synthetic clinic and run the pipeline
#   make test   set up the environment from the lock file and run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint fmt docs bench fuzz clean env

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

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
