"""local/warm_modules.py: a module file run by the venv's Python is run by the warm module server, as the process it
replaces would have run it: its argv, environment, working directory, output and exit status; a caller killed takes
its module (and what the module started) with it; a signal to the caller reaches the module; no server, or a caller
whose Python settings differ, runs the module the normal way.

A real server process on a socket of the test's own; the "module" is a script named like an AnsiballZ file.
"""

import os
import signal
import subprocess
import sys
import sysconfig
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(ROOT, "local", "warm_modules.py")

PROBE = r"""
import atexit, json, os, sys, time
warm = "botocore.session" in sys.modules  # preloaded by the server only: a new process has not imported it yet
atexit.register(lambda: print("atexit ran", flush=True))
mode = sys.argv[1]
print(json.dumps({"warm": warm, "argv": sys.argv[1:], "cwd": os.getcwd(), "probe_env": os.environ.get("PROBE_ENV"),
                  "pid": os.getpid(), "main": __name__}), flush=True)
if mode == "exit":
    sys.exit(int(sys.argv[2]))
if mode == "raise":
    raise RuntimeError("the probe failed on purpose")
if mode == "sleep":
    import subprocess
    child = subprocess.Popen(["sleep", "300"])
    print("child %d" % child.pid, flush=True)
    time.sleep(300)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm")
    path = str(folder / "s.sock")
    log = open(folder / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, SERVER, "serve", path], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        assert proc.poll() is None and time.monotonic() < deadline, open(folder / "server.log").read()
        time.sleep(0.05)
    yield path, folder / "server.log"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    log.close()


@pytest.fixture()
def probe(tmp_path):
    path = tmp_path / "AnsiballZ_probe.py"
    path.write_text(PROBE)
    return str(path)


def run(probe, *args, socket_path, env=None, **kwargs):
    full = dict(os.environ, EHRBASE_LOCAL_MODULE_SERVER=socket_path, PROBE_ENV="from the caller", **(env or {}))
    return subprocess.run([sys.executable, probe, *args], env=full, capture_output=True, text=True, timeout=60,
                          check=False, **kwargs)


def report(out):
    import json

    return json.loads(out.splitlines()[0])


def test_the_venv_runs_this_checkouts_client():
    installed = os.path.join(sysconfig.get_paths()["purelib"], "medzen_warm_modules.py")
    assert open(installed).read() == open(SERVER).read(), "the venv's copy is stale: run make setup"


def test_a_module_runs_in_the_server_as_its_caller(server, probe, tmp_path):
    path, _log = server
    done = run(probe, "exit", "0", socket_path=path, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    got = report(done.stdout)
    assert got["warm"] is True
    assert got["argv"] == ["exit", "0"] and got["cwd"] == str(tmp_path) and got["probe_env"] == "from the caller"
    assert got["main"] == "__main__"
    assert "atexit ran" in done.stdout  # AnsibleModule removes its temporary directory in an atexit handler


def test_exit_status_and_an_uncaught_exception_reach_the_caller(server, probe):
    path, _log = server
    assert run(probe, "exit", "3", socket_path=path).returncode == 3
    failed = run(probe, "raise", socket_path=path)
    assert failed.returncode == 1
    assert report(failed.stdout)["warm"] is True
    assert "RuntimeError: the probe failed on purpose" in failed.stderr


def test_no_server_runs_the_module_the_normal_way(probe, tmp_path):
    done = run(probe, "exit", "0", socket_path=str(tmp_path / "absent.sock"))
    assert done.returncode == 0 and report(done.stdout)["warm"] is False
    off = run(probe, "exit", "4", socket_path="off")
    assert off.returncode == 4 and report(off.stdout)["warm"] is False


def test_other_python_settings_are_refused_and_run_the_normal_way(server, probe):
    path, log = server
    done = run(probe, "exit", "0", socket_path=path, env={"PYTHONWARNINGS": "ignore::UserWarning:probe"})
    assert done.returncode == 0 and report(done.stdout)["warm"] is False
    assert "another PYTHON* settings" in open(log).read()


def wait_line(proc, prefix):
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError("%s never printed" % prefix)


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid) as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def start_sleeper(probe, path):
    full = dict(os.environ, EHRBASE_LOCAL_MODULE_SERVER=path)
    proc = subprocess.Popen([sys.executable, probe, "sleep"], env=full, stdout=subprocess.PIPE, text=True)
    worker = report(wait_line(proc, "{"))
    assert worker["warm"] is True and worker["pid"] != proc.pid
    child = int(wait_line(proc, "child ").split()[1])
    return proc, worker["pid"], child


def test_a_caller_killed_outright_takes_its_module_and_what_it_started(server, probe):
    proc, worker, child = start_sleeper(probe, server[0])
    proc.kill()
    proc.wait()
    assert wait_gone(worker), "the module outlived its killed caller"
    assert wait_gone(child), "what the module started outlived its killed caller"


def test_a_signal_to_the_caller_reaches_the_module(server, probe):
    proc, worker, child = start_sleeper(probe, server[0])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    assert wait_gone(worker) and wait_gone(child)
