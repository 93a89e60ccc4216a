import os
import sys

import pytest

from helpers import RUNS, aws, emulator_reset


@pytest.fixture
def emulator():
    """An empty test emulator (never the `make local` one: see Makefile TEST_ENV)."""
    emulator_reset()
    return aws


def pytest_terminal_summary(terminalreporter):
    """The slowest ansible-playbook runs of the session and what all of them cost (where a suite's time goes)."""
    if not RUNS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("ansible-playbook runs: %d, %.0f s in all; the 15 slowest" % (
        len(RUNS), sum(r[0] for r in RUNS)))
    lines = ["%7.1fs rc=%d %s  %s" % (seconds, rc, test.split("::")[-1][:60], args[:90])
             for seconds, test, args, rc in sorted(RUNS, reverse=True)]
    for line in lines[:15]:
        write(line)
    # Every run, in the state directory of the environment the suite ran on (beside the emulator's logs).
    state = os.environ.get("EHRBASE_LOCAL_STATE")
    if state and os.path.isdir(state):
        path = os.path.join(state, "ansible-playbook-runs.txt")
        with open(path, "a") as fh:
            fh.write("\n".join(["# %s" % " ".join(sys.argv[1:])] + lines) + "\n")
        write("every run: %s" % path)
