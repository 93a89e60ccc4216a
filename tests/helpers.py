"""Shared test plumbing: the repo on sys.path as ansible_collections.medzen.ehrbase,
and helpers to run playbooks against the test emulator."""

import os
import re
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REGIONS = ("eu-west-1", "eu-central-1", "af-south-1")
# The local inventory's names (inventories/local): the region's short name and its resource prefix, and the region
# each one's backups are copied to.
SHORT = {"eu-west-1": "euw1", "eu-central-1": "euc1", "af-south-1": "afs1"}
PREFIX = {region: "medzen-local-" + short for region, short in SHORT.items()}
PARTNERS = {"eu-west-1": "eu-central-1", "eu-central-1": "eu-west-1", "af-south-1": "eu-west-1"}
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5100")
# The inventory's warm standby (inventories/shared/all.yml ehrbase_standby): standby region -> its source.
STANDBY = {"eu-central-1": "eu-west-1"}
# The plan without a warm standby (ehrbase_standby {}): every region on a database of its own, protected by its backup
# copies only - what a region without a standby relies on (docs/standby.md). The checks lane builds and runs it (the
# restore path, recovery); the other lanes run the inventory's default (eu-central-1 the standby of eu-west-1).
WITHOUT_STANDBY = ("-e", '{"ehrbase_standby": {}}')


def emulator_reset():
    """Empty the test emulator and the test PostgreSQL servers (refuses anything not on loopback)."""
    assert re.match(r"^http://(127\.0\.0\.1|localhost):\d+$", ENDPOINT), ENDPOINT
    assert re.search(r"/\.local-test(-[a-z]+)?$", os.environ.get("EHRBASE_LOCAL_STATE", "")), \
        "tests must run with make's TEST_ENV (a .local-test* state directory)"
    req = urllib.request.Request(ENDPOINT + "/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(req, timeout=30).read()
    import localenv
    import pg

    localenv.reset_extras()  # restored servers, backup copies, lost-region flags
    localenv.up()  # a region a test "lost" runs again

    for region in REGIONS:
        pg.reset(region)


def aws(service, region="eu-west-1"):
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def run_playbook(*args, inventory="inventories/local", timeout=1800, env=None):
    """Run ansible-playbook from the repo root; returns (rc, combined output)."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, *args]
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                    ANSIBLE_FORCE_COLOR="0", AWS_ENDPOINT_URL=ENDPOINT)
    full_env.update(env or {})  # e.g. AWS_ENDPOINT_URL of a fault proxy in front of the emulator
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    RUNS.append((time.monotonic() - started, os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                 " ".join(args), proc.returncode))
    return proc.returncode, proc.stdout + proc.stderr


def run_without_standby(*args, **kwargs):
    """run_playbook with the plan WITHOUT_STANDBY (the checks lane's suites)."""
    return run_playbook(*WITHOUT_STANDBY, *args, **kwargs)


# Every ansible-playbook run of this session: (seconds, test, arguments, rc); tests/conftest.py prints the slowest.
RUNS = []


def recap(output):
    """PLAY RECAP -> {host: {ok: n, changed: n, failed: n, ...}}."""
    hosts = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        hosts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return hosts


def unfolded(output):
    """The output with its whitespace collapsed: the callback folds long messages, anywhere in a phrase."""
    return " ".join(output.split())


def changed_tasks(output):
    """Names of tasks that reported changed (for a readable failure message)."""
    names, current = [], None
    for line in output.splitlines():
        m = re.match(r"^TASK \[(.*)\]", line)
        if m:
            current = m.group(1)
        elif line.startswith("changed:") and current:
            names.append("%s -> %s" % (current, line.split("]")[0] + "]"))
    return names


def run_module(module, args, check_mode=False, diff=False, aws_args=True):
    """One module through `ansible` (the real plugin loader, argument spec and check mode).

    Returns (rc, result dict or None, combined output). aws_args adds the test emulator's endpoint and keys.
    """
    import json

    if aws_args:
        args = dict(args, endpoint_url=ENDPOINT, access_key="testing", secret_key="testing",
                    region=args.get("region", "eu-west-1"))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=" + sys.executable, "-m", module, "-a", json.dumps(args)]
    cmd += (["--check"] if check_mode else []) + (["--diff"] if diff else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    m = re.search(r"\| (?:SUCCESS|CHANGED|FAILED!) => ", proc.stdout)
    result = json.JSONDecoder().raw_decode(proc.stdout[m.end():].strip())[0] if m else None
    return proc.returncode, result, out
