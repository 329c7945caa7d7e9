"""pytest set-up for the server tests: the random seed in the report header (replay a run with
LSTMRT_TEST_SEED=N)."""
import harness


def pytest_report_header(config):
    return f"LSTMRT_TEST_SEED={harness.SEED}; work directory {harness.WORK}"
