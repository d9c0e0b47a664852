# Two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv and install lineage into it (editable) on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test bench fuzz crash-test clean

$(BIN)/lineage: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(BIN)/lineage
	$(BIN)/lineage demo

test: $(BIN)/lineage
	scripts/test.sh

# Longer runs of the two randomised suites (CI runs a bounded number of each).
fuzz: $(BIN)/lineage
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest tests/test_hostile_stores.py

crash-test: $(BIN)/lineage
	LINEAGE_CRASH_RUNS=40 $(BIN)/python -m pytest tests/test_crash_random.py

# The audit against the floor, per phase (bench/audit.py): on first use it writes a store of
# 100,000 generations (about 2.7 GB) to $TMPDIR/lineage-bench-100000 (or /tmp/...) and keeps it for
# later runs; it says so before writing, and prints each turn as it goes.
bench: $(BIN)/lineage
	$(BIN)/python bench/audit.py --generations 100000

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
