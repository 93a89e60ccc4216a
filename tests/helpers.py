"""Shared test plumbing: the repo on sys.path as ansible_collections.medzen.ehrbase,
and helpers to run playbooks against the test emulator."""

import os
import re
import subprocess
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REGIONS = ("eu-west-1", "eu-central-1", "af-south-1")
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5100")


def emulator_reset():
    """Empty the test emulator and the test PostgreSQL servers (refuses anything not on loopback)."""
    assert re.match(r"^http://(127\.0\.0\.1|localhost):\d+$", ENDPOINT), ENDPOINT
    assert os.environ.get("EHRBASE_LOCAL_STATE", "").endswith(".local-test"), "tests must run with make's TEST_ENV"
    req = urllib.request.Request(ENDPOINT + "/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(req, timeout=30).read()
    import pg

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
                    ANSIBLE_FORCE_COLOR="0", AWS_ENDPOINT_URL=ENDPOINT, **(env or {}))
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def recap(output):
    """PLAY RECAP -> {host: {ok: n, changed: n, failed: n, ...}}."""
    hosts = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        hosts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return hosts


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
