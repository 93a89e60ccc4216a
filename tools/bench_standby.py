"""make bench-standby: what the warm standby loses and how long Europe cannot write (docs/standby.md, measured).

    make bench-standby

On the bench's own environment (emulator on 127.0.0.1:5200, state in .local-bench; `make bench` uses it too, one at a
time), EMULATION with real processes and data: real PostgreSQL streaming replication for the replica
(local/replicas.py), the EHRbase stand-ins, and Route53's health checks emulated by asking each check's path at its
region's stand-in (local/writer.py, global_region). From empty, with the inventory's plan (eu-central-1 the standby of
eu-west-1), a bounded writer (local/writer.py) creates EHRs through the global name as a European client, ten a
second, while:

1. a planned switchover moves Europe's writer to eu-central-1 (playbooks/switchover.yml), then
2. the failback moves it back;
3. eu-west-1 is lost (`localenv.py lose`: its emulated API, stand-in and PostgreSQL stop) and
   playbooks/failover_region.yml promotes eu-central-1.

For each: the playbook's time, the writes refused on the way, the longest time without an acknowledged write (the
outage a client sees), and the acknowledged EHRs the new writer does not serve (the loss: 0 for a switchover). For the
failover: RPO (acknowledged EHRs missing, and the seconds before the loss they cover) and RTO (the loss to the first
write acknowledged through the global name again). The figures are written to BENCH_STANDBY_JSON (default
bench-standby.json). What they would be on AWS: docs/standby.md.
"""

import base64
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "local"))
from bench import ENV, localenv  # noqa: E402  pylint: disable=wrong-import-position
from writer import Writer, global_region  # noqa: E402  pylint: disable=wrong-import-position

REGIONS = ("eu-west-1", "eu-central-1", "af-south-1")
SHORT = {"eu-west-1": "euw1", "eu-central-1": "euc1", "af-south-1": "afs1"}
DOMAIN = "ehr.medzenhealth.app"  # inventories/local
STANDIN_PORT = 18080 + int(ENV["EHRBASE_LOCAL_PORT_OFFSET"])  # local/standin.py, a port per region in REGIONS order


def aws(service, region="eu-west-1"):
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=ENV["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def origin(region):
    return "http://127.0.0.1:%d" % (STANDIN_PORT + REGIONS.index(region))


_AUTH = {}


def auth(region):
    if region not in _AUTH:
        secret = aws("secretsmanager", region).get_secret_value(SecretId="medzen-local-%s/ehrbase/api-user" % SHORT[region])
        api = json.loads(secret["SecretString"])
        _AUTH[region] = "Basic " + base64.b64encode(("%(username)s:%(password)s" % api).encode()).decode()
    return _AUTH[region]


def through_the_global_name():
    region = global_region(aws("route53", "us-east-1"), DOMAIN, REGIONS, origin, "EU")
    if region is None:
        raise ConnectionError("the global name answers Europe from no region")
    return region, origin(region) + "/ehrbase"


def served(region, ehr_id):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(origin(region) + "/ehrbase/rest/openehr/v1/ehr/" + ehr_id,
                                 headers={"Authorization": auth(region)})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def playbook(*args):
    env = dict(os.environ, **ENV)
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/local", *args]
    print("  %s ..." % " ".join(args), end="", flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    print(" %.1f s (exit %d)" % (seconds, proc.returncode), flush=True)
    if proc.returncode != 0:
        raise SystemExit("bench-standby: %s failed (exit %d); its output ends:\n%s" % (
            " ".join(args), proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    return seconds, proc.stdout


def longest_gap(acked, start, end):
    """The longest time in [start, end] without an acknowledged write."""
    moments = [start] + [a[0] for a in acked if start < a[0] < end] + [end]
    return max(b - a for a, b in zip(moments, moments[1:]))


def measured(name, writer, started, ended, seconds, new_writer):
    """The figures of one move of the writer: the loss is every acknowledged EHR the new writer does not serve."""
    acked = writer.acked_before(ended)
    lost = [a for a in acked if not served(new_writer, a[2])]
    row = {"run": name, "playbook_s": round(seconds, 1), "acknowledged": len(acked), "lost": len(lost),
           "refused_writes": len([f for f in writer.failed if started <= f[0] <= ended]),
           "longest_without_a_write_s": round(longest_gap(writer.acked, started, ended), 1)}
    return row, lost


def switchover(to):
    writer = Writer(through_the_global_name, auth, interval=0.1).start()
    time.sleep(5)
    started = time.monotonic()
    seconds, dummy = playbook("playbooks/switchover.yml", "-e", "switchover_to=" + to, "-e", "switchover_confirm=" + to)
    time.sleep(3)
    writer.stop()
    row, dummy = measured("switchover to " + to, writer, started, time.monotonic(), seconds, to)
    return row


def failover():
    writer = Writer(through_the_global_name, auth, interval=0.1).start()
    time.sleep(5)
    localenv("lose", "eu-west-1")
    lost_at = time.monotonic()
    seconds, out = playbook("playbooks/failover_region.yml", "-e", "lost_region=eu-west-1",
                            "-e", "failover_confirm=eu-west-1")
    time.sleep(3)
    writer.stop()
    row, lost = measured("failover to eu-central-1", writer, lost_at, time.monotonic(), seconds, "eu-central-1")
    first = writer.first_ack_after(lost_at)
    missing_before_loss = [a for a in lost if a[0] <= lost_at]
    row.update(rpo_ehrs=len(missing_before_loss),
               rpo_s=round(lost_at - missing_before_loss[0][0], 1) if missing_before_loss else 0.0,
               rto_s=round(first[0] - lost_at, 1) if first else None,
               reported_lag=" ".join(out.split()).split("replica lag ", 1)[-1].split(" s", 1)[0][:20])
    return row


def main():
    localenv("up")
    localenv("reset")
    print("from empty, the inventory's plan (eu-central-1 the warm standby of eu-west-1):", flush=True)
    build_s, dummy = playbook("site.yml")
    rows = []
    try:
        rows.append(switchover("eu-central-1"))
        rows.append(switchover("eu-west-1"))
        rows.append(failover())
    finally:
        localenv("restore", "eu-west-1")
    print("\n%-28s %10s %8s %5s %8s %12s" % ("run", "playbook", "acked", "lost", "refused", "no write for"))
    for r in rows:
        print("%-28s %9.1fs %8d %5d %8d %11.1fs" % (
            r["run"], r["playbook_s"], r["acknowledged"], r["lost"], r["refused_writes"], r["longest_without_a_write_s"]))
    fail = rows[-1]
    print("\nfailover: RPO %d acknowledged EHRs (%.1f s before the loss; the replica reported a lag of %s s), "
          "RTO %s s (the loss to the first write acknowledged through the global name)"
          % (fail["rpo_ehrs"], fail["rpo_s"], fail["reported_lag"], fail["rto_s"]))
    out = os.environ.get("BENCH_STANDBY_JSON", os.path.join(ROOT, "bench-standby.json"))
    with open(out, "w") as fh:
        json.dump({"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "build_s": round(build_s, 1),
                   "runs": rows}, fh, indent=1)
    print("figures written to %s" % out)
    if any(r["lost"] for r in rows[:2]):
        raise SystemExit("bench-standby: a switchover lost acknowledged EHRs (it must lose none)")


if __name__ == "__main__":
    main()
