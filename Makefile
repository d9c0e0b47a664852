# Two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv and install lineage into it (editable) on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/lineage: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(BIN)/lineage
	$(BIN)/lineage demo

test: $(BIN)/lineage
	scripts/test.sh

bench: $(BIN)/lineage
	$(BIN)/python bench/audit.py --generations 100000

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
