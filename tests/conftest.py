# tests/firmware/ holds tests for both interpreters, run by fwtest.py through
# test_firmware_runtimes.py; pytest must not collect them directly.
collect_ignore_glob = ["firmware/*"]

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _own_history(tmp_path_factory, monkeypatch):
    """No test touches the person's own history: every `corecue` run in a test, in this process
    or a child, keeps it in a folder of the test session (a test may point it elsewhere)."""
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path_factory.mktemp("history")))
