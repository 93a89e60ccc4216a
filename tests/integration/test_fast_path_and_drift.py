"""Re-runs of the converged deployment: idempotence with the fast path off (and no secret printed at -vvv), the fast
path itself (no mutating call), drift reported by `--check --diff` (which changes no other task of any tier) and put
back by a run.

Runs on the shared deployment (tests/integration/conftest.py); the drift test puts back everything it changes.
"""

import json
import os
import re
import sys

import pytest

import drift
from helpers import ENDPOINT, REGIONS, ROOT, aws, changed_tasks, recap, run_playbook, unfolded

sys.path.insert(0, os.path.join(ROOT, "local"))
from faultproxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def counter():
    """A fault-free proxy in front of the emulator that counts reads and mutating calls per region."""
    proxy = FaultProxy(ENDPOINT).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def roles_rerun(deployment):
    """(rc, output, task definition revisions before) of a normal re-run with the roles (fast path off) at -vvv."""
    # Autoscaling moved a region to 3 tasks: a re-run must leave that alone.
    ecs = aws("ecs", "eu-west-1")
    ecs.update_service(cluster="medzen-local-euw1-cluster", service="medzen-local-euw1-ehrbase", desiredCount=3)
    revisions = len(ecs.list_task_definitions(familyPrefix="medzen-local-euw1-ehrbase")["taskDefinitionArns"])
    # The roles themselves (ehrbase_fast_path=false): idempotent, and silent about secrets even at -vvv.
    rc, out = run_playbook("site.yml", "-vvv", "-e", "ehrbase_fast_path=false")
    return rc, out, revisions


def test_second_run_changes_nothing_and_never_prints_a_secret(deployment, roles_rerun):
    rc, out, revisions = roles_rerun
    ecs = aws("ecs", "eu-west-1")
    svc = ecs.describe_services(cluster="medzen-local-euw1-cluster", services=["medzen-local-euw1-ehrbase"])["services"][0]
    assert svc["desiredCount"] == 3, "the re-run reset an autoscaled task count"
    assert len(ecs.list_task_definitions(familyPrefix="medzen-local-euw1-ehrbase")["taskDefinitionArns"]) == revisions
    assert rc == 0, out[-5000:]
    totals = recap(out)
    assert all(totals[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
    leaked = []
    for region in REGIONS:
        sm = aws("secretsmanager", region)
        for s in sm.list_secrets()["SecretList"]:
            password = json.loads(sm.get_secret_value(SecretId=s["ARN"])["SecretString"])["password"]
            if password in out or password in deployment[1]:
                leaked.append(s["Name"])
    assert leaked == [], "secret values printed: %s" % leaked


def test_regions_run_primary_first_then_the_others_together(roles_rerun):
    """A run that may change a deployed region: the primary's region play finished before any other region's started
    (a first build and check mode run every region at once: test_build.py)."""
    out = roles_rerun[1]
    batches = [chunk.split("\nPLAY [", 1)[0] for chunk in out.split("PLAY [Region - network, data and app tier]")[1:]]
    assert len(batches) == 2, len(batches)
    hosts = [set(re.findall(r"^(?:ok|changed): \[([a-z0-9-]+)\]", b, re.M)) for b in batches]
    assert hosts == [{"eu-west-1"}, {"eu-central-1", "af-south-1"}], hosts
    assert "Rollout - eu-west-1 alone, then eu-central-1 + af-south-1" in out


def test_the_fast_path_skips_a_converged_deployment_with_no_change_and_no_mutating_call(deployment, counter):
    # The region order is how a run goes, not what it deploys: another order over the sealed state is a hit too.
    for extra in ([], ["--check"], ["-e", "ehrbase_region_rollout=serial"]):
        counter.faults.reset()
        rc, out = run_playbook("site.yml", *extra, env={"AWS_ENDPOINT_URL": counter.url})
        assert rc == 0, out[-5000:]
        for region in REGIONS:
            assert re.search(r"%s: \d+ resources read, as sealed by run" % region, out), out[-5000:]
        assert "TASK [medzen.ehrbase.network : " not in out and "TASK [medzen.ehrbase.route53 : " not in out
        assert "PLAY [Verify - every region serves EHRs]" in out and "eu-west-1 (primary)" in out  # verify, summary
        assert all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
        assert counter.faults.stats()["mutating"] == 0, counter.faults.stats()["mutating_calls"]


DRIFT_TASKS = {  # task name start -> the region it must report changed in
    "medzen.ehrbase.network : ECS security group": "eu-west-1",
    "medzen.ehrbase.ecs : Fargate task definition": "eu-west-1",
    "medzen.ehrbase.network : Route tables - the result of each": "eu-central-1",
    "medzen.ehrbase.monitoring : Alarms with alarm and OK actions": "af-south-1",
    "medzen.ehrbase.ecs : Task range of the service": "af-south-1",
    "medzen.ehrbase.route53 : Alias records": "eu-west-1",  # run once, for every region's records
    # What the declaration holds exclusively (issue 26): once listed, left alone and sealed as in sync.
    "medzen.ehrbase.ecs : Task role": "eu-central-1",
    "medzen.ehrbase.ecs : Inline policies nobody declared, removed": "af-south-1",
    "medzen.ehrbase.network : VPC with DNS support and hostnames": "eu-central-1",
    "medzen.ehrbase.rds : KMS key with rotation": "af-south-1",
    "medzen.ehrbase.ecs : Service - 2 tasks": "af-south-1",  # ECS Exec (the primary's release is "Service - ")
    "medzen.ehrbase.rds : Secrets encrypted with the region key": "eu-central-1",
    "medzen.ehrbase.monitoring : Every alarm reaches every address": "af-south-1",
    "medzen.ehrbase.rds : Backup copies of ": "af-south-1",  # named with the batch's first region
}


RELEASE_TASKS = {  # what the task definition's drift brings about: a release of the declared one, snapshot first
    "medzen.ehrbase.ecs : Snapshot the database before the release": "eu-west-1",
    "medzen.ehrbase.ecs : Service - ": "eu-west-1",
}


def drift_state():
    return {"sg_rule": drift.sg_rule_present(), "route": drift.route_present(), "alarm": drift.alarm_threshold_value(),
            "task_env": "DEBUG_BY_HAND" in drift.task_definition_env(), "dns": drift.dns_record_present(),
            "min": drift.min_capacity(), "admin": drift.admin_policy_attached(), "inline": drift.inline_policies(),
            "schedule": drift.scheduled_actions(), "vpc_dns": drift.vpc_dns_hostnames(),
            "key_policy": drift.key_policy_principals(), "ecs_exec": drift.ecs_exec(),
            "secret_key": drift.secret_key(), "filter": drift.alarm_filter_value(), "copies": drift.backup_copies_running()}


def changed_in(out, task_start):
    """The hosts a task (found by the start of its name, in every batch that ran it) reported changed on."""
    parts = [p.split("\nTASK [", 1)[0].split("\nPLAY [", 1)[0] for p in out.split("TASK [" + task_start)[1:]]
    return set(re.findall(r"^changed: \[([a-z0-9-]+)\]", "\n".join(parts), re.M))


DRIFT_LINES = ("changed: security group medzen-local-euw1-ecs-sg", "changed: route table medzen-local-euc1-private-rt-a",
               "changed: alarm medzen-local-afs1-ecs-cpu-high", "changed: task definition of medzen-local-euw1-ehrbase",
               "gone: DNS record eu-central-1.ehr.medzenhealth.app. A",
               "changed: scalable target service/medzen-local-afs1-cluster/medzen-local-afs1-ehrbase",
               "changed: IAM policies of medzen-local-euc1-ecs-task", "changed: IAM policies of medzen-local-afs1-ecs-execution",
               "changed: scheduled actions of service/medzen-local-afs1-cluster/medzen-local-afs1-ehrbase",
               "changed: vpc medzen-local-euc1-vpc", "changed: KMS key alias/medzen-local-afs1-ehrbase",
               "changed: ECS service medzen-local-afs1-ehrbase",
               "changed: filter policy of topic medzen-local-afs1-alarms to ehrbase-ops@medzen.example",
               "changed: secret medzen-local-euc1/ehrbase/db-master",
               "changed: backup copies of medzen-local-afs1-db in eu-west-1")


# What the collection holds exclusively (plugins/module_utils/declared.py): each is a finding, which fails a run
# (check mode included) and is never sealed.
DRIFT_FINDINGS = (
    "IAM role medzen-local-euc1-ecs-task: managed policies nobody declared: arn:aws:iam::aws:policy/AdministratorAccess",
    "IAM role medzen-local-afs1-ecs-execution: inline policies nobody declared: break-glass",
    "scalable target service/medzen-local-afs1-cluster/medzen-local-afs1-ehrbase: scheduled actions nobody declared: "
    "evening-off",
    "vpc medzen-local-euc1-vpc: enableDnsHostnames is False, declared True",
    "KMS key alias/medzen-local-afs1-ehrbase: its policy lets in principals beyond account",
    "ECS service medzen-local-afs1-ehrbase: ECS Exec is turned on",
    "subscription of topic medzen-local-afs1-alarms to ehrbase-ops@medzen.example: a filter policy nobody declared",
    "secret medzen-local-euc1/ehrbase/db-master: encrypted with alias/aws/secretsmanager, not the region key",
    "backup copies of medzen-local-afs1-db in eu-west-1: the replication is not running",
)


def make_every_drift(converged):
    for make in (drift.sg_rule, drift.route, drift.alarm_threshold, drift.task_definition, drift.dns_record,
                 drift.scaled_in, drift.admin_policy, drift.inline_star, drift.evening_off, drift.vpc_dns_hostnames_off,
                 drift.key_policy_opened, drift.ecs_exec_on, drift.alarm_filter, drift.secret_key_moved,
                 drift.backup_copies_stopped):
        make()
    drifted = drift_state()
    assert all(drifted[k] != converged[k] for k in converged), (converged, drifted)
    return drifted


def unexplained_changes(out):
    """The changed task lines that neither a drift (on its own region) nor the release it brings about explains."""
    drifted_on = {(t, "changed: [%s]" % r) for t, r in list(DRIFT_TASKS.items()) + list(RELEASE_TASKS.items())}
    return [line for line in changed_tasks(out) if not any(line.startswith(t) and line.endswith(on) for t, on in drifted_on)]


def check_reports_every_drift_and_changes_nothing(counter, drifted):
    """`--check --diff` over every region's drift: the fast path names each drifted resource and hands every region
    to its roles, which report exactly the drifted tasks changed and nothing else (so this run is also the check mode
    of the converged roles: every other task of every tier is `ok`), with no mutating call."""
    counter.faults.reset()
    rc, out = run_playbook("site.yml", "--check", "--diff", env={"AWS_ENDPOINT_URL": counter.url})
    # A scheduled drift check fails visibly: every difference from the declaration is named, with its fix.
    text = unfolded(out)
    assert rc != 0 and "differ from what the collection declares (check mode, nothing was changed" in text, out[-5000:]
    assert [f for f in DRIFT_FINDINGS if f not in text] == [], out[-6000:]
    assert counter.faults.stats()["mutating"] == 0, counter.faults.stats()["mutating_calls"]
    missing = [line for line in DRIFT_LINES if line not in out]  # the fast path names each resource
    assert missing == [], missing
    unreported = [task for task, region in DRIFT_TASKS.items() if region not in changed_in(out, task)]
    assert unreported == [], (unreported, changed_tasks(out))
    assert "TASK [medzen.ehrbase.network : " in out and "TASK [medzen.ehrbase.monitoring : " in out
    extra = unexplained_changes(out)
    assert extra == [], extra  # a task the drift does not explain, or a drifted task in a region without drift
    assert drift_state() == drifted


def failing_primary_leaves_the_others_untouched(counter, drifted):
    """A primary that fails (here: a release that never becomes healthy) stops the run before any other region."""
    before = {r: drift.running(r) for r in REGIONS}
    counter.faults.reset()
    rc, out = run_playbook("site.yml", "-e", "ecs_ehrbase_version=2.32.0-broken", env={"AWS_ENDPOINT_URL": counter.url})
    assert rc != 0 and "RELEASE FAILED in eu-west-1" in out, out[-4000:]
    # The primary is back on what it ran before (its rollback); no other region's service moved.
    assert {r: drift.running(r) for r in REGIONS} == before
    assert changed_in(out, "medzen.ehrbase.network : ECS security group") == {"eu-west-1"}, changed_tasks(out)
    others = [k for k in counter.faults.stats()["mutating_calls"] if k.split(":")[0] in ("eu-central-1", "af-south-1")]
    assert others == [], others
    now = drift_state()
    others = ("route", "alarm", "min", "admin", "inline", "schedule", "vpc_dns", "key_policy", "ecs_exec", "secret_key",
              "filter", "copies")
    assert [now[k] for k in others] == [drifted[k] for k in others]


def repair_puts_back_every_drift(converged):
    """The normal run after the drift: the roles put every drift back (the primary's own went back in the failed
    release run; the global DNS records were still missing), and every region is sealed again."""
    rc, out = run_playbook("site.yml")
    left = [task for task, region in DRIFT_TASKS.items() if region != "eu-west-1" or "route53" in task]
    assert [task for task in left if DRIFT_TASKS[task] not in changed_in(out, task)] == [], changed_tasks(out)
    assert rc == 0 and drift_state() == converged, out[-5000:]


def a_twin_no_run_removes_is_refused_and_never_sealed():
    """What no run puts back - an empty second VPC of the deployment's name - is refused before any change, with
    its fix, and no region's seal moves (test_faults.py runs that fix, repair.yml)."""
    seals = dict((r, drift.seal(r)) for r in REGIONS)
    twin = drift.twin_vpc()
    try:
        rc, out = run_playbook("site.yml")
        text = unfolded(out)
        assert rc != 0 and twin in text and "Nothing was changed in any region" in text, out[-4000:]
        assert "playbooks/repair.yml" in text
        assert dict((r, drift.seal(r)) for r in REGIONS) == seals
    finally:
        drift.twin_vpc_removed(twin)


def test_drift_is_reported_by_check_and_put_back_by_a_normal_run_primary_first(deployment, counter):
    converged = drift_state()
    drifted = make_every_drift(converged)
    check_reports_every_drift_and_changes_nothing(counter, drifted)
    failing_primary_leaves_the_others_untouched(counter, drifted)
    repair_puts_back_every_drift(converged)
    rc, out = run_playbook("site.yml")
    for region in REGIONS:
        assert re.search(r"%s: \d+ resources read, as sealed by run" % region, out), out[-5000:]
    assert rc == 0 and all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
    a_twin_no_run_removes_is_refused_and_never_sealed()


def test_rerun_does_not_duplicate_network(deployment):
    for region in REGIONS:
        ec2 = aws("ec2", region)
        tag = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
        assert len(ec2.describe_vpcs(Filters=tag)["Vpcs"]) == 1
        assert len(ec2.describe_addresses()["Addresses"]) == 2
        assert len([n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"]) == 2
