"""Teardown on the test emulator: refusals, one region, everything, the no-op re-run, and the rebuild - with the
rebuild killed (SIGKILL of the whole process tree) at six steps of the network, data and app tiers on the way.

Runs on the deployment it finds converged (tests/integration/conftest.py): in `make test` one the `deployment`
fixture builds from empty in a lane of its own ("teardown"), in `make integration` the shared one, last. It leaves it
rebuilt and converged for tests/awx.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from census import FAST, assert_exactly_one_of_each
from helpers import ENDPOINT, PARTNERS, PREFIX, REGIONS, ROOT, STANDBY, aws, changed_tasks, recap, run_playbook, unfolded

DOMAIN = "ehr.medzenhealth.app."


def zone_records():
    r53 = aws("route53")
    zones = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "medzenhealth.app."]
    if not zones:
        return None
    return r53.list_resource_record_sets(HostedZoneId=zones[0]["Id"])["ResourceRecordSets"]


def vpc_count(region):
    return len(aws("ec2", region).describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["medzen"]}])["Vpcs"])


@pytest.mark.parametrize("extra, message", [
    ([], "pass -e teardown_confirm=local/all"),
    (["-e", "teardown_confirm=local/eu-west-1"], "pass -e teardown_confirm=local/all (got local/eu-west-1)"),
    (["-e", "teardown_confirm=prod/all"], "(got prod/all)"),
])
def test_teardown_refuses_without_the_exact_confirmation(deployment, extra, message):
    rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=all", *extra)
    assert rc != 0
    assert message in unfolded(out), out[-3000:]
    assert all(vpc_count(r) == 1 for r in REGIONS), "a refused teardown changed something"


def test_teardown_refuses_an_unknown_target(deployment):
    rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=us-east-1",
                           "-e", "teardown_confirm=local/us-east-1")
    assert rc != 0 and "teardown_target='us-east-1' is neither a region of this inventory" in unfolded(out)
    assert all(vpc_count(r) == 1 for r in REGIONS)


def test_teardown_refuses_the_source_of_a_warm_standby_alone(deployment):
    rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=eu-west-1",
                           "-e", "teardown_confirm=local/eu-west-1")
    flat = unfolded(out)
    assert rc != 0 and "source of the warm standby in eu-central-1" in flat and "Nothing was changed" in flat, out[-3000:]
    assert vpc_count("eu-west-1") == 1 and recap(out)["eu-west-1"]["changed"] == 0


def test_teardown_check_mode_changes_nothing(deployment):
    before = zone_records()
    rc, out = run_playbook("playbooks/teardown.yml", "--check", "-e", "teardown_target=all",
                           "-e", "teardown_confirm=local/all")
    assert rc == 0, out[-4000:]
    assert all(recap(out)[r]["changed"] >= 1 for r in REGIONS), "check mode must say what it would remove"
    assert zone_records() == before and all(vpc_count(r) == 1 for r in REGIONS)


def test_teardown_refuses_a_region_holding_a_database_it_did_not_create(deployment):
    rds = aws("rds", "af-south-1")
    rds.create_db_instance(DBInstanceIdentifier="medzen-local-afs1-db-drill", Engine="postgres", EngineVersion="16.8",
                           DBInstanceClass="db.t3.medium", AllocatedStorage=100, MasterUsername="ehrbase_master",
                           Tags=[{"Key": "Purpose", "Value": "drill"}])
    try:
        rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=af-south-1",
                               "-e", "teardown_confirm=local/af-south-1")
        assert rc != 0 and "holds medzen-local-afs1-db-drill" in unfolded(out), out[-3000:]
        assert recap(out)["af-south-1"]["changed"] == 0 and vpc_count("af-south-1") == 1
    finally:
        rds.delete_db_instance(DBInstanceIdentifier="medzen-local-afs1-db-drill", SkipFinalSnapshot=True)


def test_one_region_teardown_keeps_the_others_and_a_valid_tree(deployment):
    rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=af-south-1",
                           "-e", "teardown_confirm=local/af-south-1")
    assert rc == 0, out[-4000:]
    assert "Africa -> eu-west-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    assert vpc_count("af-south-1") == 0 and vpc_count("eu-west-1") == 1 and vpc_count("eu-central-1") == 1
    names = {(r["Name"], r.get("SetIdentifier")) for r in zone_records()}
    assert ("af-south-1." + DOMAIN, None) not in names
    assert ("af." + DOMAIN, "af-primary-af-south-1") not in names
    assert ("af." + DOMAIN, "af-secondary-eu") in names and ("eu-west-1." + DOMAIN, None) in names
    assert len(aws("route53").list_health_checks()["HealthChecks"]) == 2
    assert aws("rds", "eu-west-1").describe_db_instances()["DBInstances"], "another region's database was touched"


def check_network_gone(region):
    ec2 = aws("ec2", region)
    assert vpc_count(region) == 0
    assert aws("ssm", region).describe_parameters()["Parameters"] == [], "the converged-state seal goes first"
    assert ec2.describe_addresses()["Addresses"] == []
    assert {n["State"] for n in ec2.describe_nat_gateways()["NatGateways"]} <= {"deleted"}
    assert [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"] == []


def check_data_gone_but_snapshots_and_secrets_kept(region, prefix):
    rds = aws("rds", region)
    assert rds.describe_db_instances()["DBInstances"] == []
    snaps = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    final = [s for s in snaps if s["DBSnapshotIdentifier"].startswith(prefix + "-db-final-")]
    # Kept as well: the snapshots releases took before they started (test_releases.py, when it ran on this deployment),
    # and the one of the database a standby replaced (test_standby_adoption.py, idem).
    others = [s["DBSnapshotIdentifier"] for s in snaps if s not in final]
    # A warm standby's replica gets no final snapshot (AWS takes none of a read replica; its source keeps the records).
    assert len(final) == (0 if region in STANDBY else 1), final
    assert all(name.startswith((prefix + "-pre-", prefix + "-db-before-standby-")) for name in others), others
    assert all(s["Encrypted"] for s in snaps)
    assert [g for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
            if g["DBParameterGroupName"].startswith(prefix)] == []
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    secrets = aws("secretsmanager", region).list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert len(secrets) == 5 and all(s.get("DeletedDate") for s in secrets), "secrets kept, scheduled for deletion"
    # Kept on purpose: the key that decrypts the final snapshot (README, docs/teardown.md).
    key = aws("kms", region).describe_key(KeyId="alias/%s-ehrbase" % prefix)["KeyMetadata"]
    assert key["KeyState"] == "Enabled"


def check_copies_kept_replication_stopped(region, prefix):
    """The stated policy: replication stopped, the copies kept (retained) with the key that encrypts them."""
    partner = PARTNERS[region]
    copies = [c for c in aws("rds", partner).describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
              if c["DBInstanceIdentifier"] == prefix + "-db"]
    if region in STANDBY:  # a read replica has no automated backups to copy: its source's are copied
        assert copies == [], copies
        return
    assert [c["Status"] for c in copies] == ["retained"], copies
    key = aws("kms", partner).describe_key(KeyId="alias/%s-ehrbase-copies" % prefix)["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and copies[0]["KmsKeyId"] == key["Arn"]


def check_app_gone(region, prefix):
    ecs = aws("ecs", region)
    clusters = ecs.describe_clusters(clusters=[prefix + "-cluster"])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == []
    elb = aws("elbv2", region)
    assert elb.describe_load_balancers()["LoadBalancers"] == [] and elb.describe_target_groups()["TargetGroups"] == []
    assert aws("acm", region).list_certificates()["CertificateSummaryList"] == []
    assert aws("logs", region).describe_log_groups()["logGroups"] == []
    assert aws("application-autoscaling", region).describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []


def check_global_gone():
    for region in REGIONS + ("us-east-1",):
        assert aws("cloudwatch", region).describe_alarms()["MetricAlarms"] == []
        assert aws("sns", region).list_topics()["Topics"] == []
        assert aws("cloudwatch", region).list_dashboards()["DashboardEntries"] == []
    account = aws("sts").get_caller_identity()["Account"]
    assert aws("budgets", "us-east-1").describe_budgets(AccountId=account).get("Budgets", []) == []
    assert [r["RoleName"] for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith("medzen-")] == []
    assert aws("route53").list_health_checks()["HealthChecks"] == []
    assert zone_records() is None, "teardown_delete_zone=true removes the emptied zone"


def test_teardown_all_leaves_only_the_snapshots_and_deleted_secrets(deployment):
    rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=all", "-e", "teardown_confirm=local/all",
                           "-e", "teardown_delete_zone=true")
    assert rc == 0, out[-4000:]
    for region in REGIONS:
        check_network_gone(region)
        check_data_gone_but_snapshots_and_secrets_kept(region, PREFIX[region])
        check_copies_kept_replication_stopped(region, PREFIX[region])
        check_app_gone(region, PREFIX[region])
    check_global_gone()


def test_second_teardown_changes_nothing(deployment):
    rc, out = run_playbook("playbooks/teardown.yml", "-e", "teardown_target=all", "-e", "teardown_confirm=local/all",
                           "-e", "teardown_delete_zone=true")
    assert rc == 0, out[-4000:]
    assert all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)


KILL_POINTS = [
    # (what the run is doing when it is killed: a task name that starts it, seconds after it started; the region the
    # run is limited to). Each region is killed at two steps, the later one in a run that starts over from the first;
    # a run of one region costs a third of a run of all three, and the rebuild after them converges all three.
    ("network: the NAT gateways", "TASK [medzen.ehrbase.network : NAT gateway per AZ", 0.5, "eu-west-1"),
    ("data tier: the key and the secrets", "TASK [medzen.ehrbase.rds : Secrets (generated once", 0.3, "eu-central-1"),
    ("data tier: the database", "TASK [medzen.ehrbase.rds : PostgreSQL Multi-AZ", 0.5, "af-south-1"),
    ("app tier: the load balancer", "TASK [medzen.ehrbase.ecs : Internet-facing ALB", 0.3, "eu-west-1"),
    ("app tier: the task definition", "TASK [medzen.ehrbase.ecs : Fargate task definition", 0.4, "eu-central-1"),
    ("app tier: the service", "TASK [medzen.ehrbase.ecs : Service - 2 tasks", 0.3, "af-south-1"),
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


def run_and_kill(marker, delay, region, timeout=900):
    """site.yml limited to `region` until `marker` appears in its output, then SIGKILL of it and every process under
    it (modules too)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", AWS_ENDPOINT_URL=ENDPOINT, PYTHONUNBUFFERED="1")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/local", "site.yml",
           "--limit", region]
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


def test_site_rebuilds_everything_after_teardown_through_runs_killed_at_any_step(deployment):
    """The rebuild is also the kill test (it was its own from-empty build): each step of KILL_POINTS is reached by a
    run of one region that is then killed, each run starting from what the killed ones before it left; the plain run
    of every region after them converges with exactly one of every resource and the whole DNS tree."""
    for what, marker, delay, region in KILL_POINTS:
        rc, out = run_and_kill(marker, delay, region)
        assert rc == -signal.SIGKILL, "%s in %s: the run ended before it was killed:\n%s" % (what, region, out[-3000:])
    # All regions at once (the opt-in): the rebuild is the slowest step of the suite.
    rc, out = run_playbook("site.yml", *FAST)
    assert rc == 0, out[-4000:]
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    assert all(vpc_count(r) == 1 for r in REGIONS)
    names = {(r["Name"], r.get("SetIdentifier")) for r in zone_records()}
    assert {("af." + DOMAIN, "af-primary-af-south-1"), (DOMAIN, "geo-default"), ("eu-central-1." + DOMAIN, None)} <= names
    assert_exactly_one_of_each()
