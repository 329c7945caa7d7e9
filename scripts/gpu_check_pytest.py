"""pytest plugin of scripts/gpu-check's pytest stages (loaded with `-p gpu_check_pytest`): writes to
the file named by $GPU_CHECK_PYTEST_RECORD, line by line as they happen, the tests selected and each
test's outcome, so that a stage stopped at its cap still says what finished and what was running.
One tab-separated record a line:

    selected  <count>                       after collection and deselection, then
    item      <node id>                     once for each selected test
    start     <node id>                     a test begins
    <outcome> <node id>  <message>          a test's outcome, once, after its teardown:
                                            passed, failed (its call), error (its set-up or
                                            teardown), skipped (the reason), xfailed (the reason)
    collect-error    <node id>  <message>   a file that could not be collected
    collect-skipped  <node id>  <message>   a file skipped whole (a module-level importorskip)

Messages are one line. Without the variable the plugin does nothing.
"""
import os

_record = None
_outcomes = {}  # node id -> (outcome, message) so far, phase by phase


def _one_line(text):
    return " ".join(str(text).split())[:300]


def _write(*fields):
    if _record is not None:
        _record.write("\t".join(_one_line(f) for f in fields) + "\n")
        _record.flush()


def _message(report):
    if report.skipped and isinstance(report.longrepr, tuple):  # (path, line, "Skipped: why")
        text = report.longrepr[2]
        return text[len("Skipped: "):] if text.startswith("Skipped: ") else text
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    lines = report.longreprtext.strip().splitlines()  # a collection error: its last line, "E   Error: why"
    last = lines[-1] if lines else ""
    return last[1:].strip() if last.startswith("E ") else last


def pytest_configure(config):
    global _record
    path = os.environ.get("GPU_CHECK_PYTEST_RECORD")
    if path and _record is None:
        _record = open(path, "a", encoding="utf-8")


def pytest_unconfigure(config):
    global _record
    if _record is not None:
        _record.close()
        _record = None


def pytest_collectreport(report):
    if report.failed:
        _write("collect-error", report.nodeid or ".", _message(report))
    elif report.skipped:
        _write("collect-skipped", report.nodeid or ".", _message(report))


def pytest_collection_finish(session):
    _write("selected", len(session.items))
    for item in session.items:
        _write("item", item.nodeid)


def pytest_runtest_logstart(nodeid, location):
    _write("start", nodeid)


def pytest_runtest_logreport(report):
    outcome, message = _outcomes.get(report.nodeid, ("passed", ""))
    if outcome == "passed":  # the first phase that did not pass decides
        if hasattr(report, "wasxfail") and report.skipped:
            outcome, message = "xfailed", report.wasxfail
        elif report.failed:
            outcome, message = ("failed" if report.when == "call" else "error"), _message(report)
        elif report.skipped:
            outcome, message = "skipped", _message(report)
    _outcomes[report.nodeid] = (outcome, message)
    if report.when == "teardown":
        _write(outcome, report.nodeid, message)
        del _outcomes[report.nodeid]
