"""rds_backup_replication, rds_backup_copy_info and rds_backup_restore through ansible against the test emulator.

The emulator's copies and restores are real (local/backup_plane.py): a dump of the region's PostgreSQL, restored into
a PostgreSQL server of its own.
"""

import os
import sys
import time

import psycopg2
import pytest

from helpers import ENDPOINT, ROOT, aws, run_module

SOURCE = "medzen-unit-euw1-db"
PASSWORD = "unitTestPassword1234567890"


@pytest.fixture
def source(emulator):
    db = aws("rds", "eu-west-1").create_db_instance(
        DBInstanceIdentifier=SOURCE, Engine="postgres", EngineVersion="16.8", DBInstanceClass="db.t3.medium",
        AllocatedStorage=100, MasterUsername="ehrbase_master", MasterUserPassword=PASSWORD, StorageEncrypted=True,
        BackupRetentionPeriod=7)["DBInstance"]
    key = aws("kms", "eu-central-1").create_key(Description="copies")["KeyMetadata"]["Arn"]
    return db["DBInstanceArn"], key


def module(name, args, **kw):
    rc, res, out = run_module("medzen.ehrbase." + name, dict(args, region="eu-central-1"), **kw)
    assert res is not None, out
    return rc, res, out


def copies():
    return aws("rds", "eu-central-1").describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]


def wait_for_a_copy(timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rc, res, out = module("rds_backup_copy_info", {"source_db_instance_identifier": SOURCE})
        if res["copies"] and res["copies"][0].get("restore_window", {}).get("latest_time"):
            return res["copies"][0]
        time.sleep(0.5)
    raise AssertionError("no copy after %s s" % timeout)


def test_replication_check_mode_start_idempotent_stop(source):
    arn, key = source
    args = {"source_db_instance_arn": arn, "backup_retention_period": 7, "kms_key_id": key}
    rc, res, out = module("rds_backup_replication", args, check_mode=True)
    assert rc == 0 and res["changed"] and copies() == [], out
    rc, res, out = module("rds_backup_replication", args)
    assert rc == 0 and res["changed"] and res["replication"]["status"] == "replicating", out
    rc, res, out = module("rds_backup_replication", args)
    assert rc == 0 and not res["changed"], out
    # A different retention cannot be changed in place: a warning, never a silent stop of the copies.
    rc, res, out = module("rds_backup_replication", dict(args, backup_retention_period=14))
    assert rc == 0 and not res["changed"] and "cannot change it in place" in out, out
    copy = wait_for_a_copy()
    assert copy["region"] == "eu-west-1" and copy["kms_key_id"] == key and copy["backup_retention_period"] == 7
    rc, res, out = module("rds_backup_replication", dict(args, state="absent"), check_mode=True)
    assert rc == 0 and res["changed"] and [c["Status"] for c in copies()] == ["replicating"], out
    rc, res, out = module("rds_backup_replication", dict(args, state="absent"))
    assert rc == 0 and res["changed"] and [c["Status"] for c in copies()] == ["retained"], out
    rc, res, out = module("rds_backup_replication", dict(args, state="absent"))
    assert rc == 0 and not res["changed"], out


def test_a_source_that_is_not_a_db_arn_is_named(emulator):
    rc, res, out = module("rds_backup_replication", {"source_db_instance_arn": "medzen-unit-euw1-db"})
    assert rc != 0 and "source_db_instance_arn" in res["msg"] and "not an RDS DB instance ARN" in res["msg"], out


def test_restore_holds_the_copy_and_is_never_restored_over(source):
    arn, key = source
    conn = psycopg2.connect(host="127.0.0.1", port=int(__import__("pg").port("eu-west-1")), user="ehrbase_master",
                            password=PASSWORD, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE unitcopy")
    conn.close()
    module("rds_backup_replication", {"source_db_instance_arn": arn, "kms_key_id": key})
    ec2 = aws("ec2", "eu-central-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.%d.0/24" % i, AvailabilityZone="eu-central-1" + az)[
        "Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    aws("rds", "eu-central-1").create_db_subnet_group(DBSubnetGroupName="unit-private", SubnetIds=subnets,
                                                      DBSubnetGroupDescription="private")
    copy = wait_for_a_copy()
    args = {"source_db_instance_automated_backups_arn": copy["db_instance_automated_backups_arn"],
            "db_instance_identifier": "medzen-unit-euw1-db-drill", "db_instance_class": "db.t3.medium",
            "db_subnet_group_name": "unit-private", "vpc_security_group_ids": []}
    rc, res, out = module("rds_backup_restore", args, check_mode=True)
    assert rc == 0 and res["changed"], out
    assert "medzen-unit-euw1-db-drill" not in [d["DBInstanceIdentifier"] for d in
                                               aws("rds", "eu-central-1").describe_db_instances()["DBInstances"]]
    rc, res, out = module("rds_backup_restore", args)
    assert rc == 0 and res["changed"], out
    rds = aws("rds", "eu-central-1")
    deadline = time.monotonic() + 60
    while rds.describe_db_instances(DBInstanceIdentifier=args["db_instance_identifier"])["DBInstances"][0][
            "DBInstanceStatus"] != "available":
        assert time.monotonic() < deadline, "restore did not finish"
        time.sleep(0.5)
    endpoint = rds.describe_db_instances(DBInstanceIdentifier=args["db_instance_identifier"])["DBInstances"][0]["Endpoint"]
    conn = psycopg2.connect(host=endpoint["Address"], port=endpoint["Port"], user="ehrbase_master", password=PASSWORD,
                            dbname="unitcopy")
    conn.close()
    rc, res, out = module("rds_backup_restore", args)
    assert rc == 0 and not res["changed"], out
    rds.delete_db_instance(DBInstanceIdentifier=args["db_instance_identifier"], SkipFinalSnapshot=True)


def test_a_start_whose_answer_was_lost_adopts_the_replication_it_started(source):
    """The SDK sends a start again when its answer is lost; AWS refuses the second as "already on" - not an error."""
    sys.path.insert(0, os.path.join(ROOT, "local"))
    from faultproxy import FaultProxy  # pylint: disable=import-outside-toplevel

    arn, key = source
    fp = FaultProxy(ENDPOINT, always=["eu-central-1:StartDBInstanceAutomatedBackupsReplication"]).start()
    try:
        rc, res, out = run_module("medzen.ehrbase.rds_backup_replication", {
            "source_db_instance_arn": arn, "kms_key_id": key, "region": "eu-central-1", "endpoint_url": fp.url,
            "access_key": "testing", "secret_key": "testing"}, aws_args=False)
        stats = fp.faults.stats()
    finally:
        fp.stop()
    assert rc == 0 and res["changed"] and res["replication"]["status"] == "replicating", out
    assert [c["Status"] for c in copies()] == ["replicating"], copies()
    # The answer was lost and the start sent twice: the case under test happened.
    assert {"fault": "drop", "region": "eu-central-1", "action": "StartDBInstanceAutomatedBackupsReplication"} \
        in stats["injected"], stats
    assert stats["mutating_calls"].get("eu-central-1:StartDBInstanceAutomatedBackupsReplication", 0) >= 2, stats
