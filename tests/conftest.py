# tests/firmware/ holds tests for both interpreters, run by fwtest.py through
# test_firmware_runtimes.py; pytest must not collect them directly.
collect_ignore_glob = ["firmware/*"]
