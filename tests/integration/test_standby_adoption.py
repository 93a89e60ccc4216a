"""A deployment made without a warm standby adopts the inventory's (eu-central-1 the standby of eu-west-1): the
upgrade an existing deployment meets when its plan gains the standby. eu-central-1's independent database is refused
with its EHR count; `--check` with the confirmation says what would change and changes nothing; confirmed, a snapshot
is taken and the database is replaced by an encrypted read replica of eu-west-1's (an EMULATION with real PostgreSQL
streaming replication, local/replicas.py); eu-west-1's EHRs then answer from eu-central-1 within seconds, a write
there fails read-only, and a re-run changes nothing.

Runs last on the checks lane, on what the fault run converged without a standby (after backups and recovery).
"""

import re

from helpers import aws, recap, run_playbook, unfolded
from test_backups_and_recovery import create_ehrs, read_ehr
from test_standby import DB, check_the_replica_as_declared, read_within, write_status


def before_standby_snapshots(rds):
    return [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier=DB)["DBSnapshots"]
            if s["DBSnapshotIdentifier"].startswith(DB + "-before-standby-")]


def test_an_independent_database_becomes_the_standby_only_when_confirmed(deployment_without_standby):
    rds = aws("rds", "eu-central-1")
    own = create_ehrs("eu-central-1", 1)
    rc, out = run_playbook("site.yml", "-l", "eu-central-1")  # refused in its data tier, before DNS
    flat = unfolded(out)
    assert rc != 0 and re.search(r"eu-central-1 holds an independent database, %s, with \d+ EHRs" % DB, flat), out[-3000:]
    assert "-e rds_standby_confirm=eu-central-1" in flat and "Nothing was changed" in flat
    assert read_ehr("eu-central-1", own[0], "eu-central-1") == 200  # still its own database
    assert not before_standby_snapshots(rds)

    # --check with the confirmation: the snapshot, the replacement and the replica are what would change; nothing does.
    rc, out = run_playbook("site.yml", "--check", "-e", "rds_standby_confirm=eu-central-1")
    assert rc == 0 and recap(out)["eu-central-1"]["changed"] > 0, out[-3000:]
    assert "Snapshot before the replacement" in out and not before_standby_snapshots(rds)
    db = rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    assert not db.get("ReadReplicaSourceDBInstanceIdentifier") and db["DBInstanceStatus"] == "available", db

    rc, out = run_playbook("site.yml", "-e", "rds_standby_confirm=eu-central-1")
    assert rc == 0, out[-4000:]
    check_the_replica_as_declared(rds)
    assert len(before_standby_snapshots(rds)) == 1
    # The standby's own record is in the snapshot, no longer served; eu-west-1's records are.
    assert read_ehr("eu-central-1", own[0], "eu-central-1") == 404
    for ehr_id in create_ehrs("eu-west-1", 3):
        assert read_within("eu-central-1", ehr_id) is not None, ehr_id
    code, body = write_status("eu-central-1")
    assert code == 500 and "read-only transaction" in body, (code, body)

    rc, out = run_playbook("site.yml")
    assert rc == 0 and all(r["changed"] == 0 for r in recap(out).values()), out[-3000:]
