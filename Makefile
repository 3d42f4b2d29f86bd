# Two entry points for people: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench faults clean

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
	$(BIN)/python bench/effort_grid.py
	$(BIN)/python bench/fatigue_index.py
	$(BIN)/python bench/real_recordings.py
	$(BIN)/python bench/real_twitches.py
	$(BIN)/python bench/hum_on_the_run.py
	$(BIN)/python bench/window_latency.py
	$(BIN)/python bench/chain_cost.py
	$(BIN)/python bench/session_storage.py
	$(BIN)/python bench/session_start_heap.py
	$(BIN)/python bench/ble_goodput.py
	$(BIN)/python bench/fw_coverage.py
	$(BIN)/python bench/download_throughput.py
	$(BIN)/python bench/store_sessions.py
	$(BIN)/python bench/summary_migration.py --repeats 1
	$(BIN)/python bench/analytics_cost.py
	$(BIN)/python bench/ownership_cost.py
	$(BIN)/python bench/bonds_cost.py
	$(BIN)/python bench/power_week.py

# The fault-injection suite in full (docs/reliability.md has its figures; make test runs it
# reduced): a power cut at every flash operation of a 30-block session and in the middle of
# each, and at every operation of boot recovery; a flash that fails (EIO) or is full (ENOSPC) at
# every write of a two-minute session of the real app; damaged files and every block of the
# data area damaged in turn at boot, through main.py's boot; an exception in each task, and a
# watchdog reset, at ten moments of a session; all under MicroPython. MemoryError at every call
# of every allocation site of a sync (both interpreters, and with ownership in front), and of
# the links' own code (USB and Bluetooth LE, without and with ownership; both interpreters),
# and at two calls of every allocation site of a run. Then 100,000 requests made by hypothesis
# through the command handler, and 100,000 inputs each to the deframer and the session decoder
# (CPython), all replayed under MicroPython; and the companion killed 40 times during a sync
# over each transport.
faults: $(STAMP)
	$(BIN)/micropython -X heapsize=8M tests/faults/powercut.py firmware 3000 1
	$(BIN)/micropython -X heapsize=8M tests/faults/writefail.py firmware 120 1
	$(BIN)/micropython -X heapsize=8M tests/faults/bootdamage.py firmware 1
	$(BIN)/micropython -X heapsize=8M tests/faults/taskfail.py firmware 10
	$(BIN)/micropython -X heapsize=8M tests/faults/memfail.py firmware 1
	$(BIN)/python tests/faults/memfail.py firmware 1
	$(BIN)/micropython -X heapsize=8M tests/faults/memfail.py firmware 1 owned
	$(BIN)/micropython -X heapsize=8M tests/faults/memlink.py firmware 1 usb
	$(BIN)/python tests/faults/memlink.py firmware 1 usb
	$(BIN)/micropython -X heapsize=8M tests/faults/memlink.py firmware 1 usb-owned
	$(BIN)/python tests/faults/memlink.py firmware 1 usb-owned
	$(BIN)/micropython -X heapsize=8M tests/faults/memlink.py firmware 1 ble
	$(BIN)/python tests/faults/memlink.py firmware 1 ble
	$(BIN)/micropython -X heapsize=8M tests/faults/memlink.py firmware 1 ble-owned
	$(BIN)/python tests/faults/memlink.py firmware 1 ble-owned
	$(BIN)/micropython -X heapsize=8M tests/faults/memrun.py firmware 2 1
	CORECUE_FUZZ_EXAMPLES=100000 $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/test_faults_commands.py tests/test_faults_fuzz.py
	$(BIN)/python tests/faults/killsync.py 40

clean:
	rm -rf $(VENV) .pytest_cache
