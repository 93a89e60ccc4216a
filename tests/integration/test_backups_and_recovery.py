"""Backups and recovery: the cross-region backup copies and secret replicas, the backup drill (and one that fails
midway), and the recovery of a lost region in its partner with the failback.

Runs on what the fault run converged, without a standby (`deployment_without_standby`, lane checks): the restore path
of the regions that have none. The recovery test changes what eu-central-1 serves, then fails back with `site.yml`.
"""

import json
import os
import time

from helpers import PARTNERS, REGIONS, ROOT, SHORT, aws, unfolded
from helpers import run_without_standby as run_playbook  # this lane's plan (helpers.WITHOUT_STANDBY)


def standin(region):
    return "http://127.0.0.1:%d/ehrbase" % (18080 + int(os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "0"))
                                            + REGIONS.index(region))


def api_auth(region):
    import base64

    secret = aws("secretsmanager", region).get_secret_value(SecretId="medzen-local-%s/ehrbase/api-user" % SHORT[region])
    api = json.loads(secret["SecretString"])
    return "Basic " + base64.b64encode(("%s:%s" % (api["username"], api["password"])).encode()).decode()


def create_ehrs(region, count):
    import urllib.request

    ids = []
    for dummy in range(count):
        req = urllib.request.Request(standin(region) + "/rest/openehr/v1/ehr", data=b"", method="POST",
                                     headers={"Authorization": api_auth(region)})
        with urllib.request.urlopen(req, timeout=10) as resp:
            ids.append(resp.headers["Location"].rsplit("/", 1)[1])
    return ids


def read_ehr(region, ehr_id, credentials_of):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(standin(region) + "/rest/openehr/v1/ehr/" + ehr_id,
                                 headers={"Authorization": api_auth(credentials_of)})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def localenv(*args):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, os.path.join(ROOT, "local", "localenv.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def instances(region):
    return [d["DBInstanceIdentifier"] for d in aws("rds", region).describe_db_instances()["DBInstances"]]


def restored_servers_gone(timeout=15):
    import backups

    deadline = time.monotonic() + timeout
    while backups.restored_servers() and time.monotonic() < deadline:
        time.sleep(0.5)
    return not backups.restored_servers()


def check_copies(region, partner):
    copies = [c for c in aws("rds", partner).describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
              if c["DBInstanceIdentifier"] == "medzen-local-%s-db" % SHORT[region]]
    key = aws("kms", partner).describe_key(KeyId="alias/medzen-local-%s-ehrbase-copies" % SHORT[region])["KeyMetadata"]
    assert len(copies) == 1, copies
    assert copies[0]["Status"] == "replicating" and copies[0]["Region"] == region
    assert copies[0]["BackupRetentionPeriod"] == 7 and copies[0]["KmsKeyId"] == key["Arn"]
    assert copies[0]["RestoreWindow"].get("LatestTime"), "no copy taken yet"
    assert aws("kms", partner).get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]


def check_secret_replicas(region, partner, key_arn):
    for name in ("db-master", "db-owner", "db-app", "api-user", "api-admin"):
        secret_id = "medzen-local-%s/ehrbase/%s" % (SHORT[region], name)
        status = aws("secretsmanager", region).describe_secret(SecretId=secret_id).get("ReplicationStatus", [])
        assert [(s["Region"], s.get("KmsKeyId")) for s in status] == [(partner, key_arn)], (secret_id, status)
        assert aws("secretsmanager", partner).get_secret_value(SecretId=secret_id)["SecretString"]


def test_backup_copies_and_secret_replicas_are_in_the_partner_region(deployment_without_standby):
    for region, partner in PARTNERS.items():
        check_copies(region, partner)
        key = aws("kms", partner).describe_key(KeyId="alias/medzen-local-%s-ehrbase-copies" % SHORT[region])
        check_secret_replicas(region, partner, key["KeyMetadata"]["Arn"])


def test_backup_drill_restores_every_ehr_of_the_copy_and_deletes_its_instance(deployment_without_standby):
    before = create_ehrs("eu-west-1", 3)
    localenv("backup", "eu-west-1")
    after = create_ehrs("eu-west-1", 1)
    rc, out = run_playbook("playbooks/backup_drill.yml", "-e", "drill_region=eu-west-1")
    assert rc == 0, out[-4000:]
    flat = unfolded(out)
    assert "Backup drill eu-west-1 -> eu-central-1: PASS" in flat and "-> match" in flat
    # The newest EHR restored is the last one created before the copy; the one created after is not in it.
    report = flat[flat.index("Backup drill eu-west-1 -> eu-central-1"):]
    assert "newest EHR restored %s" % before[-1] in report and after[0] not in report.split("newest in the source", maxsplit=1)[0]
    assert "bootstrap on the copy (check mode): no change" in flat
    assert "medzen-local-euw1-db-drill" not in instances("eu-central-1")
    assert restored_servers_gone()


def test_a_backup_drill_that_fails_midway_still_deletes_its_instance(deployment_without_standby):
    rc, out = run_playbook("playbooks/backup_drill.yml", "-e", "drill_region=af-south-1", "-e", "drill_db_port=1")
    assert rc != 0 and "Could not read EHRbase's records in restored copy medzen-local-afs1-db-drill" in out, out[-3000:]
    assert "Delete the temporary instance" in out
    assert "medzen-local-afs1-db-drill" not in instances("eu-west-1")
    assert restored_servers_gone()


def check_the_maintenance_report_names_the_lost_region():
    """The weekly report still runs while eu-west-1 is lost: declared, it is named and not called; undeclared, its
    reads fail and the report says so for that region instead of crashing in its template."""
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", '{"ehrbase_unreachable_regions": ["eu-west-1"]}')
    flat = unfolded(out)
    assert rc == 0 and "eu-west-1 LOST: not read" in flat and "eu-central-1 ok" in flat, out[-3000:]
    rc, out = run_playbook("playbooks/maintenance_report.yml")
    flat = unfolded(out)
    assert rc != 0 and "eu-west-1 FAILED: no database medzen-local-euw1-db" in flat, out[-3000:]
    assert "certificate: unknown (could not read)" in flat and "Traceback" not in out


def test_a_lost_region_is_recovered_in_its_partner_with_its_api_only(deployment_without_standby):
    ids = create_ehrs("eu-west-1", 3)
    localenv("backup", "eu-west-1")
    localenv("lose", "eu-west-1")
    try:
        # Without the confirmation: restored and reported, not switched.
        rc, out = run_playbook("playbooks/recover_region.yml", "-e", "lost_region=eu-west-1")
        assert rc != 0 and "Not switching eu-central-1's EHRbase to the recovered database" in out, out[-3000:]
        assert "received 0 EHRs since the recovery point" in unfolded(out)
        assert read_ehr("eu-central-1", ids[0], "eu-central-1") == 404
        rc, out = run_playbook("playbooks/recover_region.yml", "-e", "lost_region=eu-west-1",
                               "-e", "recover_confirm=eu-west-1")
        assert rc == 0, out[-4000:]
        flat = unfolded(out)
        assert "the global name answers EU from eu-central-1" in flat and "read back OK" in flat
        # Every EHR created before the copy, read from eu-central-1 with eu-central-1's own API user.
        assert [read_ehr("eu-central-1", i, "eu-central-1") for i in ids] == [200, 200, 200]
        # Nothing called the lost region's API (the emulator logs every call it refused).
        calls = os.path.join(os.environ["EHRBASE_LOCAL_STATE"], "lost", "eu-west-1.calls")
        assert not os.path.exists(calls), open(calls).read()
        # A later run that does not declare the recovery stops before switching eu-central-1 back.
        rc, out = run_playbook("site.yml", "-l", "eu-central-1", "-e", '{"ehrbase_unreachable_regions": ["eu-west-1"]}')
        assert rc != 0 and "holds medzen-local-euw1-db-recovered" in out, out[-3000:]
        assert [read_ehr("eu-central-1", i, "eu-central-1") for i in ids] == [200, 200, 200]
        check_the_maintenance_report_names_the_lost_region()
    finally:
        localenv("restore", "eu-west-1")
    # Failback (docs/backups.md): eu-west-1 answers again; eu-central-1 goes back to its own database, knowingly.
    rc, out = run_playbook("site.yml", "-e", "rds_serve_recovered_from=own")
    assert rc == 0, out[-4000:]
    assert read_ehr("eu-central-1", ids[0], "eu-central-1") == 404 and read_ehr("eu-west-1", ids[0], "eu-west-1") == 200
    # The test's own clean-up (an operator keeps the recovered database until its records are merged back).
    aws("rds", "eu-central-1").delete_db_instance(DBInstanceIdentifier="medzen-local-euw1-db-recovered",
                                                  SkipFinalSnapshot=True)
    assert restored_servers_gone()
