"""Warm standby (docs/standby.md), the inventory's topology: eu-central-1's database is an encrypted read replica of
eu-west-1's; EHRs written in eu-west-1 answer from eu-central-1's EHRbase within seconds; a write there fails as
EHRbase's does on a read-only database; the maintenance report lists the replica. When eu-west-1 is lost the replica
reports its lag and keeps serving every record it had, and diagnose names it. A switchover and the failback lose no
acknowledged EHR. The failover is refused while eu-west-1 answers (and recover_region.yml points to it); with a
writer running, it promotes the standby, loses no EHR acknowledged more than 5 s before the loss, and fences
eu-west-1; the failback then rejoins the fenced old primary as a replica and switches back, losing nothing. Check
mode changes nothing in either playbook. An independent database made the standby (the upgrade):
test_standby_adoption.py.

The replica is an EMULATION with real PostgreSQL streaming replication (local/replicas.py). Runs last on the teardown
lane's rebuilt deployment after awx (`make integration-standby`); it ends with the plan's topology again.
"""

import re
import time

from helpers import REGIONS, aws, recap, run_playbook, unfolded
from test_backups_and_recovery import api_auth, create_ehrs, localenv, read_ehr, standin
from writer import Writer, global_region

DB = "medzen-local-euc1-db"
DOMAIN = "ehr.medzenhealth.app"


def origin(region):
    """Where Route53's health check of `region` lands locally: its stand-in (the path carries /ehrbase)."""
    return standin(region).rsplit("/ehrbase", 1)[0]


def read_within(region, ehr_id, seconds=5.0):
    """Seconds until `region`'s EHRbase serves the EHR (None if it never does within `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if read_ehr(region, ehr_id, region) == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def write_status(region):
    import urllib.error

    try:
        create_ehrs(region, 1)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    return 201, ""


def replica_lag(region, ident):
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    points = aws("cloudwatch", region).get_metric_statistics(
        Namespace="AWS/RDS", MetricName="ReplicaLag", Dimensions=[{"Name": "DBInstanceIdentifier", "Value": ident}],
        StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=1), Period=60,
        Statistics=["Maximum"])["Datapoints"]
    return max(p["Maximum"] for p in points) if points else None


def check_the_replica_as_declared(rds):
    db = rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    key = aws("kms", "eu-central-1").describe_key(KeyId="alias/medzen-local-euc1-ehrbase")["KeyMetadata"]["Arn"]
    assert db["ReadReplicaSourceDBInstanceIdentifier"].endswith(":eu-west-1:123456789012:db:medzen-local-euw1-db"), db
    assert db["StorageEncrypted"] and db["KmsKeyId"] == key and db["MultiAZ"] and not db["PubliclyAccessible"]
    assert db["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    alarm = aws("cloudwatch", "eu-central-1").describe_alarms(AlarmNames=["medzen-local-euc1-rds-replica-lag"])
    assert [(a["MetricName"], a["Dimensions"]) for a in alarm["MetricAlarms"]] == [
        ("ReplicaLag", [{"Name": "DBInstanceIdentifier", "Value": DB}])], alarm


def test_the_inventorys_standby_follows_eu_west_1_within_seconds_and_takes_no_write(deployment):
    check_the_replica_as_declared(aws("rds", "eu-central-1"))
    for ehr_id in create_ehrs("eu-west-1", 3):
        assert read_within("eu-central-1", ehr_id) is not None, ehr_id
    code, body = write_status("eu-central-1")
    assert code == 500 and "read-only transaction" in body, (code, body)
    # The weekly report lists the replica's health instead of a backup age it does not have.
    rc, out = run_playbook("playbooks/maintenance_report.yml")
    flat = unfolded(out)
    assert rc == 0 and "warm standby: read replica of eu-west-1, replicating, lag " in flat, out[-3000:]
    assert "backup: none of its own (a replica" in flat


def test_the_standby_keeps_serving_what_it_had_when_its_source_is_lost(deployment):
    ids = create_ehrs("eu-west-1", 2)
    assert all(read_within("eu-central-1", i) is not None for i in ids)
    assert replica_lag("eu-central-1", DB) == 0.0
    localenv("lose", "eu-west-1")
    try:
        time.sleep(1)
        db = aws("rds", "eu-central-1").describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
        assert db["StatusInfos"][0]["Status"] == "error" and not db["StatusInfos"][0]["Normal"], db["StatusInfos"]
        assert replica_lag("eu-central-1", DB) > 0  # the age of the last replayed transaction: what a failover loses
        assert [read_ehr("eu-central-1", i, "eu-central-1") for i in ids] == [200, 200]
        # diagnose names the broken replication in eu-central-1 (and calls only its API and Route53).
        rc, out = run_playbook("playbooks/diagnose.yml", "-l", "eu-central-1")
        assert rc == 2 and "does not replicate from eu-west-1" in unfolded(out), out[-3000:]
    finally:
        localenv("restore", "eu-west-1")
    # Replication resumes by itself once the source answers again.
    later = create_ehrs("eu-west-1", 1)
    assert read_within("eu-central-1", later[0], seconds=15) is not None


def switchover(to):
    rc, out = run_playbook("playbooks/switchover.yml", "-e", "switchover_to=%s" % to, "-e", "switchover_confirm=%s" % to)
    flat = unfolded(out)
    assert rc == 0 and ": 0 lost" in flat, out[-4000:]
    return flat


def replica_source(region, short):
    db = aws("rds", region).describe_db_instances(DBInstanceIdentifier="medzen-local-%s-db" % short)["DBInstances"][0]
    return db.get("ReadReplicaSourceDBInstanceIdentifier") or ""


def test_switchover_and_failback_lose_no_acknowledged_ehr(deployment):
    rc, out = run_playbook("playbooks/switchover.yml", "-e", "switchover_to=eu-central-1")
    assert rc != 0 and "Not switching" in unfolded(out), out[-3000:]  # no confirmation, nothing changed
    # --check with the confirmation: the plan, and no change (the plays that change something match no host).
    rc, out = run_playbook("playbooks/switchover.yml", "--check", "-e", "switchover_to=eu-central-1",
                           "-e", "switchover_confirm=eu-central-1")
    assert rc == 0 and "1. stop writes" in out and all(r["changed"] == 0 for r in recap(out).values()), out[-3000:]
    assert replica_source("eu-central-1", "euc1") and write_status("eu-west-1")[0] == 201
    written = create_ehrs("eu-west-1", 3)
    switchover("eu-central-1")
    assert replica_source("eu-west-1", "euw1").endswith(":db:medzen-local-euc1-db")
    assert not replica_source("eu-central-1", "euc1")
    assert [read_ehr("eu-central-1", i, "eu-central-1") for i in written] == [200] * 3
    written += create_ehrs("eu-central-1", 2)
    assert all(read_within("eu-west-1", i) is not None for i in written)  # the old writer reads as a replica
    assert write_status("eu-west-1")[0] == 500
    # Failback: a switchover back. Every EHR of both directions is in eu-west-1, the writer again.
    switchover("eu-west-1")
    assert replica_source("eu-central-1", "euc1").endswith(":db:medzen-local-euw1-db")
    assert [read_ehr("eu-west-1", i, "eu-west-1") for i in written] == [200] * 5
    assert write_status("eu-west-1")[0] == 201


FAILOVER = ["playbooks/failover_region.yml", "-e", "lost_region=eu-west-1"]


def check_the_promoted_standby():
    db = aws("rds", "eu-central-1").describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    assert not db.get("ReadReplicaSourceDBInstanceIdentifier") and not db.get("StatusInfos"), db
    tags = {t["Key"]: t["Value"] for t in db.get("TagList", [])}
    assert tags.get("PromotedFrom") == "eu-west-1", tags
    checks = aws("route53", "us-east-1").list_health_checks()["HealthChecks"]
    fenced = [c["HealthCheckConfig"] for c in checks
              if c["HealthCheckConfig"].get("FullyQualifiedDomainName", "").startswith("eu-west-1.")]
    assert [c["ResourcePath"] for c in fenced] == ["/ehrbase/fenced-by-failover-to-eu-central-1"], fenced


def test_failover_with_a_writer_running_loses_no_ehr_acknowledged_5_s_before_and_fences_eu_west_1(deployment):
    writer = Writer(target=lambda: ("eu-west-1", standin("eu-west-1")), auth=api_auth, interval=0.05).start()
    try:
        time.sleep(6)
        rc, out = run_playbook(*FAILOVER, "-e", "failover_confirm=eu-west-1")
        assert rc != 0 and "eu-west-1's EHRbase answers at" in unfolded(out), out[-3000:]  # two writers: refused
        localenv("lose", "eu-west-1")
        lost_at = time.monotonic()
        time.sleep(1)
    finally:
        writer.stop()
    acked = writer.acked_before(lost_at - 5)
    assert len(acked) > 20 and not writer.first_ack_after(lost_at), (len(acked), writer.failed[-3:])
    try:
        rc, out = run_playbook("playbooks/recover_region.yml", "-e", "lost_region=eu-west-1")
        assert rc != 0 and "has a warm standby in eu-central-1" in unfolded(out), out[-3000:]
        rc, out = run_playbook(*FAILOVER)
        flat = unfolded(out)
        assert rc != 0 and "Not promoting" in flat and "replica lag" in flat, out[-3000:]
        held = re.search(r"it holds (\d+) EHRs of eu-west-1, the newest [0-9a-f-]{36}", flat)
        assert held and int(held.group(1)) >= len(acked), flat[-3000:]
        rc, out = run_playbook(*FAILOVER, "--check", "-e", "failover_confirm=eu-west-1")
        assert rc == 0 and all(r["changed"] == 0 for r in recap(out).values()), out[-3000:]
        assert replica_source("eu-central-1", "euc1"), "--check promoted the standby"
        rc, out = run_playbook(*FAILOVER, "-e", "failover_confirm=eu-west-1")
        assert rc == 0 and "written and read back" in unfolded(out), out[-4000:]
        check_the_promoted_standby()
        # Every EHR eu-west-1 acknowledged more than 5 s before the loss is served; the last 5 s are the lag's.
        assert [a[2] for a in acked if read_ehr("eu-central-1", a[2], "eu-central-1") != 200] == []
        assert write_status("eu-central-1")[0] == 201
        # A run with the old plan stops before it touches the promoted database.
        rc, out = run_playbook("site.yml", "-l", "eu-central-1", "-e", '{"ehrbase_unreachable_regions": ["eu-west-1"]}')
        assert rc != 0 and "was promoted by a failover from eu-west-1" in unfolded(out), out[-3000:]
    finally:
        localenv("restore", "eu-west-1")
    # Back, the old primary takes no traffic: the global name keeps Europe on eu-central-1 (the fenced health check).
    assert global_region(aws("route53"), DOMAIN, REGIONS, origin) == "eu-central-1"


def test_the_failback_after_the_failover_rejoins_the_fenced_primary_and_loses_no_ehr(deployment):
    written = create_ehrs("eu-central-1", 2)  # taken by the promoted standby while eu-west-1 was fenced
    rc, out = run_playbook("playbooks/switchover.yml", "-e", "switchover_to=eu-west-1")
    flat = unfolded(out)
    assert rc != 0 and "is the old primary, fenced since the failover to eu-central-1" in flat, out[-3000:]
    assert re.search(r"\(\d+ EHRs\); the failback snapshots it", flat) and "Nothing was changed" in flat, flat[-2000:]
    rc, out = run_playbook("playbooks/switchover.yml", "--check", "-e", "switchover_to=eu-west-1",
                           "-e", "switchover_confirm=eu-west-1")
    assert rc == 0 and all(r["changed"] == 0 for r in recap(out).values()), out[-3000:]
    assert not replica_source("eu-west-1", "euw1")
    switchover("eu-west-1")
    assert replica_source("eu-central-1", "euc1").endswith(":db:medzen-local-euw1-db")
    assert [read_ehr("eu-west-1", i, "eu-west-1") for i in written] == [200, 200]
    assert write_status("eu-west-1")[0] == 201
    snapshots = aws("rds", "eu-west-1").describe_db_snapshots(DBInstanceIdentifier="medzen-local-euw1-db")["DBSnapshots"]
    assert [s for s in snapshots if s["DBSnapshotIdentifier"].startswith("medzen-local-euw1-db-before-standby-")]
    # Europe's global name is back on eu-west-1: its health check asks the health path again.
    assert global_region(aws("route53"), DOMAIN, REGIONS, origin) == "eu-west-1"
