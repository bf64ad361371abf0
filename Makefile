# Two entry points, each doing its own set-up on a fresh machine:
#   make bench   the convergence benchmark on built-in problems
#   make test    the test suite (doctests and example notebooks included)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: bench test venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch is installed on its own first, pinned, so that the CPU build lying on disk is
# used rather than a CUDA build pulled in by a looser requirement.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,torch,jax]"
	touch $(STAMP)

venv: $(STAMP)

bench: $(STAMP)
	$(PY) -m itersolve.cli bench --quick --out bench-results

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --durations=15

clean:
	rm -rf $(VENV) bench-results
