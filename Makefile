# Two entry points for people: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/corecue demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/effort_accuracy.py
	$(BIN)/python bench/chain_cost.py
	$(BIN)/python bench/session_storage.py
	$(BIN)/python bench/ble_goodput.py
	$(BIN)/python bench/fw_coverage.py
	$(BIN)/python bench/download_throughput.py
	$(BIN)/python bench/store_sessions.py
	$(BIN)/python bench/analytics_cost.py
	$(BIN)/python bench/ownership_cost.py

clean:
	rm -rf $(VENV) .pytest_cache
