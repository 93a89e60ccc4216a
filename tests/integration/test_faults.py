"""What AWS and operators do to a run: throttling, 5xx answers, lost answers, killed runs - and the repair.

The faults are injected by local/faultproxy.py between the collection and the emulator (an EMULATION of AWS under
load and of dropped connections, with real requests reaching the real emulator). Each test starts from an empty
account and ends with exactly one of every resource the design has, nothing duplicated and nothing orphaned.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import ENDPOINT, REGIONS, ROOT, aws, run_playbook

sys.path.insert(0, os.path.join(ROOT, "local"))
from faultproxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = {"eu-west-1": "medzen-local-euw1", "eu-central-1": "medzen-local-euc1", "af-south-1": "medzen-local-afs1"}
OURS = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
# The design, per region: one VPC with 2 public + 2 private subnets, a NAT gateway and its address per AZ, one
# internet gateway, the default + 3 security groups, the main + public + 2 private route tables, one key, five
# secrets, one database, one ALB and target group, one service on one revision, 9 named alarms.
EXPECTED = {"vpc": 1, "subnet": 4, "nat_gateway": 2, "elastic_ip": 2, "elastic_ip_unassociated": 0,
            "internet_gateway": 1, "internet_gateway_detached": 0, "security_group": 4, "route_table": 4,
            "kms_key": 1, "kms_key_without_alias": 0, "secret": 5, "db_instance": 1, "load_balancer": 1,
            "target_group": 1, "service": 1, "task_definition_revision": 1, "alarm": 9}
EXPECTED_GLOBAL = {"hosted_zone": 1, "health_check": 3, "record_set_names": None}
FAST = ["-e", "ehrbase_region_rollout=parallel"]  # the plain re-runs: all regions at once


def network_census(region):
    ec2 = aws("ec2", region)
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=OURS)["Vpcs"]]
    in_vpcs = [{"Name": "vpc-id", "Values": vpcs}]
    addresses = ec2.describe_addresses()["Addresses"]
    igws = ec2.describe_internet_gateways()["InternetGateways"]
    return {
        "vpc": len(vpcs),
        "subnet": len(ec2.describe_subnets(Filters=in_vpcs)["Subnets"]),
        "nat_gateway": len([n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]),
        "elastic_ip": len(addresses),
        "elastic_ip_unassociated": len([a for a in addresses if not a.get("AssociationId")]),
        "internet_gateway": len([i for i in igws if any(t["Value"] == PREFIX[region] + "-igw" for t in i.get("Tags", []))]),
        "internet_gateway_detached": len([i for i in igws if not i.get("Attachments")]),
        "security_group": len(ec2.describe_security_groups(Filters=in_vpcs)["SecurityGroups"]),
        "route_table": len(ec2.describe_route_tables(Filters=in_vpcs)["RouteTables"]),
    }


def region_keys(region):
    """Enabled customer keys of the region itself (partners' copy keys, tagged CopyOf, are theirs)."""
    kms = aws("kms", region)
    keys = []
    for k in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags", [])}
        if meta["KeyState"] == "Enabled" and meta["KeyManager"] == "CUSTOMER" and not tags.get("CopyOf"):
            keys.append(k["KeyId"])
    aliased = {a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    return {"kms_key": len(keys), "kms_key_without_alias": len([k for k in keys if k not in aliased])}


def app_census(region):
    p = PREFIX[region]
    ecs, elb = aws("ecs", region), aws("elbv2", region)
    services = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"]
    return {
        "secret": len([s for s in aws("secretsmanager", region).list_secrets()["SecretList"]
                       if s["Name"].startswith(p + "/")]),
        "db_instance": len(aws("rds", region).describe_db_instances()["DBInstances"]),
        "load_balancer": len(elb.describe_load_balancers()["LoadBalancers"]),
        "target_group": len(elb.describe_target_groups()["TargetGroups"]),
        "service": len([s for s in services if s["status"] == "ACTIVE"]),
        "task_definition_revision": len(ecs.list_task_definitions(familyPrefix=p + "-ehrbase",
                                                                  status="ACTIVE")["taskDefinitionArns"]),
        # Our named alarms. Target-tracking alarms are not counted: moto makes two new ones on every PutScalingPolicy,
        # also one the SDK retried after a lost answer (AWS updates the policy and keeps its alarms).
        "alarm": len(aws("cloudwatch", region).describe_alarms(AlarmNamePrefix=p + "-")["MetricAlarms"]),
    }


def region_census(region):
    return dict(network_census(region), **region_keys(region), **app_census(region))


def global_census():
    r53 = aws("route53", "us-east-1")
    zones = r53.list_hosted_zones()["HostedZones"]
    names = []
    for zone in zones:
        names += [(r["Name"], r["Type"], r.get("SetIdentifier")) for r in
                  r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]]
    return {"hosted_zone": len(zones), "health_check": len(r53.list_health_checks()["HealthChecks"]),
            "record_set_names": len(names) == len(set(names)) or names}


def assert_exactly_one_of_each():
    wrong = {}
    for region in REGIONS:
        found = region_census(region)
        diff = {k: (found[k], v) for k, v in EXPECTED.items() if found[k] != v}
        if diff:
            wrong[region] = diff
    found = global_census()
    diff = {k: (found[k], v) for k, v in EXPECTED_GLOBAL.items() if v is not None and found[k] != v}
    if found["record_set_names"] is not True:
        diff["record_set_names"] = found["record_set_names"]
    if diff:
        wrong["global"] = diff
    assert not wrong, "resources (found, expected): %s" % wrong


@pytest.fixture
def proxy(emulator):
    fp = FaultProxy(ENDPOINT).start()
    yield fp
    fp.stop()


def through(fp):
    return {"AWS_ENDPOINT_URL": fp.url}


def converge(out_so_far=""):
    """The plain re-run every fault test ends with; it must converge."""
    rc, out = run_playbook("site.yml", *FAST)
    assert rc == 0, out_so_far[-3000:] + "\n----- plain re-run -----\n" + out[-6000:]
    return out


def test_throttled_failing_and_lost_answers_in_one_run_end_with_exactly_one_of_each(proxy):
    """One from-empty run under every kind of answer fault at once (it was one from-empty run per kind): 10 %
    throttled and 5 % 503 answers, 5 % of mutating calls that reach the emulator and lose their answer, and the first
    CreateVpc of eu-central-1 for certain (CreateVpc takes no idempotency token: the SDK's retry makes a second VPC,
    as on AWS). Retries with back-off carry the run through; the duplicate VPC is named by the next run, listed and
    removed by repair.yml, and a plain re-run converges to exactly one of each."""
    proxy.faults.configure(seed=7, throttle=0.10, error=0.05, drop=0.05, always=["eu-central-1:CreateVpc"])
    rc, out = run_playbook("site.yml", *FAST, env=through(proxy))
    injected = proxy.faults.stats()["injected"]
    assert len([i for i in injected if i["fault"] == "throttle"]) >= 20, injected
    assert len([i for i in injected if i["fault"] == "error"]) >= 10, injected
    assert len([i for i in injected if i["fault"] == "drop"]) >= 5, injected
    assert len(aws("ec2", "eu-central-1").describe_vpcs(Filters=OURS)["Vpcs"]) == 2
    faulted = (rc, out)

    # The next run refuses before any change, naming the duplicate and what to do.
    rc, out = run_playbook("site.yml", *FAST)
    text = " ".join(out.split())
    assert rc != 0 and "a second VPC of the same name" in text and "playbooks/repair.yml" in text, out[-4000:]
    assert "PLAY [Region" not in out

    # repair.yml without the confirmation lists and changes nothing; with it, removes what holds nothing.
    rc, out = run_playbook("playbooks/repair.yml")
    assert rc == 0 and "Nothing was changed" in out and "medzen-local-euc1-vpc" in out, out[-4000:]
    assert len(aws("ec2", "eu-central-1").describe_vpcs(Filters=OURS)["Vpcs"]) == 2
    rc, out = run_playbook("playbooks/repair.yml", "-e", "repair_confirm=yes")
    assert rc == 0 and "Removed: vpc vpc-" in out, out[-4000:]
    rc, out = run_playbook("playbooks/repair.yml")
    assert rc == 0 and "Nothing to repair" in out and "Nothing was changed" not in out, out[-4000:]

    converge(faulted[1] if faulted[0] else "")
    assert_exactly_one_of_each()
    # Retries carried the faulted run itself to the end (the duplicate it made is found by the next run, not by it).
    assert faulted[0] == 0, "the faulted run stopped (faults: %d): %s" % (len(injected), faulted[1][-4000:])


KILL_POINTS = [
    # (what the run is doing when it is killed: a task name that starts it, seconds after it started)
    ("network: the NAT gateways", "TASK [medzen.ehrbase.network : NAT gateway per AZ", 0.5),
    ("data tier: the key and the secrets", "TASK [medzen.ehrbase.rds : Secrets (generated once", 0.3),
    ("data tier: the database", "TASK [medzen.ehrbase.rds : PostgreSQL Multi-AZ", 0.5),
    ("app tier: the load balancer", "TASK [medzen.ehrbase.ecs : Internet-facing ALB", 0.3),
    ("app tier: the task definition", "TASK [medzen.ehrbase.ecs : Fargate task definition", 0.4),
    ("app tier: the service", "TASK [medzen.ehrbase.ecs : Service - 2 tasks", 0.3),
]


def descendants(pid):
    children = {}
    for entry in [e for e in os.listdir("/proc") if e.isdigit()]:
        try:
            with open("/proc/%s/stat" % entry) as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid):
    """SIGKILL the run and every process under it (ansible's workers start sessions of their own)."""
    for victim in [pid] + descendants(pid):
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass


def run_and_kill(marker, delay, timeout=900):
    """site.yml until `marker` appears in its output, then SIGKILL of it and every process under it (modules too)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", AWS_ENDPOINT_URL=ENDPOINT, PYTHONUNBUFFERED="1")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/local", "site.yml",
           *FAST]  # every region is mid-flight when the kill comes
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen, start = [], time.monotonic()
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(marker):
            time.sleep(delay)
            kill_tree(proc.pid)
            break
        assert time.monotonic() - start < timeout, "".join(seen[-50:])
    proc.wait()
    return proc.returncode, "".join(seen)


def test_runs_killed_at_any_step_converge_with_no_duplicate_or_orphan(emulator):
    for what, marker, delay in KILL_POINTS:
        rc, out = run_and_kill(marker, delay)
        assert rc == -signal.SIGKILL, "%s: the run ended before it was killed:\n%s" % (what, out[-3000:])
    converge()
    assert_exactly_one_of_each()
