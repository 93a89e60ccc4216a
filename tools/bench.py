"""make bench: how long site.yml takes on the local emulator - from empty, a no-op re-run, and --check.

    make bench                       # our three runs, once
    BENCH_ROUNDS=2 make bench        # twice each, medians
    BENCH_PEER='TF_PLUGIN_MIRROR=/path/to/mirror ../shared/peers/terraform/run.sh 5055' make bench
                                     # a peer run after each of ours (A B A B ...), and the ratios

The runs use an environment of their own (emulator on 127.0.0.1:5200, state in .local-bench), so neither `make
local` nor the tests are touched. Every AWS call goes through local/faultproxy.py without faults, which counts the
reads and the mutating calls. The Ansible side is read from the ansible.posix.json callback: tasks run, module
invocations (loop items counted), the 15 slowest tasks. A peer prints `name_s=<seconds>` lines (the Terraform peer's
run.sh prints tf_apply_s, tf_plan_noop_s, tf_apply_noop_s); the ratios compare from-empty with tf_apply_s and the
no-op and --check with tf_plan_noop_s. The figures are written as JSON to BENCH_JSON (default bench.json).
"""

import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "local"))
from faultproxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position

ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5200", "EHRBASE_LOCAL_STATE": os.path.join(ROOT, ".local-bench"),
       "EHRBASE_LOCAL_PORT_OFFSET": "200", "EHRBASE_LOCAL_BACKUP_INTERVAL": "3600",
       "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "10"}
RUNS = (("from_empty", []), ("noop", []), ("check", ["--check"]))
RUN_NAMES = [name for name, extra in RUNS]
PEER_FOR = {"from_empty": "tf_apply_s", "noop": "tf_plan_noop_s", "check": "tf_plan_noop_s"}


def localenv(*args):
    subprocess.run([sys.executable, os.path.join(ROOT, "local", "localenv.py"), *args], env=dict(os.environ, **ENV),
                   check=True, stdout=subprocess.DEVNULL)


def ansible_figures(report):
    """Tasks run, module invocations and the slowest tasks from the json callback's report."""
    tasks, invocations, slowest = 0, 0, []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            ran = [r for r in task.get("hosts", {}).values() if not r.get("skipped")]
            if not ran:
                continue
            tasks += len(ran)
            invocations += sum(len([i for i in r["results"] if not i.get("skipped")]) if isinstance(r.get("results"), list)
                               else 1 for r in ran)
            span = task["task"].get("duration", {})
            if span.get("start") and span.get("end"):
                secs = (parse_time(span["end"]) - parse_time(span["start"]))
                slowest.append((round(secs, 1), task["task"]["name"]))
    slowest.sort(reverse=True)
    return {"tasks_run": tasks, "module_invocations": invocations, "slowest_tasks": slowest[:15]}


def parse_time(stamp):
    from datetime import datetime

    return datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def ours(name, extra, proxy):
    """One site.yml run through the counting proxy, timed."""
    proxy.faults.reset()
    env = dict(os.environ, **ENV)
    env.update(AWS_ENDPOINT_URL=proxy.url, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/local", "site.yml",
           *extra]
    print("  %-10s site.yml %s ..." % (name, " ".join(extra)), end="", flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    print(" %.1f s (exit %d)" % (seconds, proc.returncode), flush=True)
    if proc.returncode != 0:
        raise SystemExit("bench: site.yml %s failed (exit %d); its output ends:\n%s" % (
            " ".join(extra), proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    stats = proxy.faults.stats()
    figures = ansible_figures(json.loads(proc.stdout[proc.stdout.index("{"):]))
    return dict(figures, seconds=round(seconds, 1), api_reads=stats["reads"], api_mutating=stats["mutating"])


def peer(command):
    print("  peer       %s ..." % command, end="", flush=True)
    start = time.monotonic()
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)  # noqa: S602 (the user's)
    print(" %.1f s (exit %d)" % (time.monotonic() - start, proc.returncode), flush=True)
    if proc.returncode != 0:
        raise SystemExit("bench: the peer failed (exit %d):\n%s" % (proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    return {k: float(v) for k, v in re.findall(r"^(\w+_s)=([\d.]+)\s*$", proc.stdout + proc.stderr, re.M)}


def median(rows, key):
    values = [r[key] for r in rows if key in r]
    return round(statistics.median(values), 1) if values else None


def table(results, peers):
    header = ("run", "seconds", "tasks", "invocations", "API reads", "mutating", "peer ratio")
    lines = ["%-10s %9s %7s %12s %10s %9s %10s" % header]
    for name in RUN_NAMES:
        rows = results[name]
        peer_s = median(peers, PEER_FOR[name]) if peers else None
        ratio = "%.2fx" % (median(rows, "seconds") / peer_s) if peer_s else "-"
        lines.append("%-10s %9.1f %7d %12d %10d %9d %10s" % (
            name, median(rows, "seconds"), rows[-1]["tasks_run"], rows[-1]["module_invocations"],
            rows[-1]["api_reads"], rows[-1]["api_mutating"], ratio))
    if peers:
        lines.append("peer medians: " + ", ".join("%s=%s" % (k, median(peers, k)) for k in sorted(peers[0])))
    return "\n".join(lines)


def main():
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    command = os.environ.get("BENCH_PEER", "").strip()
    results, peers = {name: [] for name in RUN_NAMES}, []
    localenv("up")
    proxy = FaultProxy(ENV["AWS_ENDPOINT_URL"]).start()
    try:
        for round_no in range(1, rounds + 1):
            print("round %d of %d" % (round_no, rounds), flush=True)
            localenv("reset")
            for name, extra in RUNS:
                results[name].append(ours(name, extra, proxy))
            if command:
                peers.append(peer(command))
    finally:
        proxy.stop()
    print()
    print(table(results, peers))
    for name in RUN_NAMES:
        print("\n15 slowest tasks, %s:" % name)
        for secs, task in results[name][-1]["slowest_tasks"]:
            print("  %6.1f s  %s" % (secs, task))
    out = os.environ.get("BENCH_JSON", os.path.join(ROOT, "bench.json"))
    with open(out, "w") as fh:
        json.dump({"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "rounds": rounds,
                   "peer": shlex.split(command)[:1] and command, "ours": results, "peer_runs": peers}, fh, indent=1)
    print("\nfigures written to %s" % out)


if __name__ == "__main__":
    main()
