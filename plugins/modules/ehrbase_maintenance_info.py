#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_maintenance_info
short_description: The weekly maintenance facts of one EHRbase region
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Read-only (Describe, List and Get calls, retried with jittered back-off).
  - For one region - the newest automated backup (the latest restorable time) and its age, the age of the
    cross-region copy where automated-backup replication is on, pending RDS maintenance and the minor versions the
    instance can move to, the certificate's expiry, the age of every secret of the deployment, the alarms that went to
    ALARM in the last days, and the ECS task-definition revisions the service runs.
  - Checks the backup age against O(backup_max_age_hours) and the certificate against O(certificate_min_days); the
    result says which checks failed, the playbook fails the report on them.
  - Why a custom module - the facts come from six services and no upstream module reads pending maintenance,
    automated-backup replications or alarm history.
  - A read that fails (no permission, an API the endpoint does not offer) is listed in C(read_errors) and shown as
    unknown; it never fails the module.
options:
  name_prefix:
    description: Prefix of the region's resource names; the names themselves follow the collection's one naming rule
      (the C(medzen.ehrbase.resource_names) filter - C(<prefix>-db), C(<prefix>-cluster), C(<prefix>/ehrbase/...)).
    type: str
    required: true
  domain:
    description: The certificate's domain.
    type: str
    required: true
  backup_max_age_hours:
    description: Oldest acceptable newest backup, in hours (RDS backs up continuously; 26 allows for one missed day).
    type: int
    default: 26
  certificate_min_days:
    description: Fewest acceptable days until the certificate expires.
    type: int
    default: 30
  alarm_history_days:
    description: Days of alarm history to read.
    type: int
    default: 7
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Weekly facts of eu-west-1
  medzen.ehrbase.ehrbase_maintenance_info:
    region: eu-west-1
    name_prefix: medzen-prod-euw1
    domain: ehr.medzenhealth.app
  register: maintenance
"""

RETURN = r"""
report:
  description: The region's facts; ages in hours or days, times as ISO 8601.
  returned: always
  type: dict
  contains:
    backup:
      description: C(latest_restorable_time), C(age_hours), C(retention_days), C(ok).
      type: dict
    cross_region_copy:
      description: C(configured) and, per destination region, the newest restorable time of the copy and its age.
      type: dict
    replica:
      description:
        - Only for a warm standby (a read replica) - C(source), C(replicating), C(replication_message), C(lag_seconds),
          C(max_lag_seconds) (CloudWatch ReplicaLag, last 5 minutes) and C(lag_at).
        - A replica keeps no backups of its own (its source's backups and copies hold its records), so its backup age
          is not checked; a replication that is not normal, or a lag over 300 s, fails the report.
      type: dict
    pending_maintenance:
      description: Pending RDS maintenance actions (action, auto-applied after, description).
      type: list
      elements: dict
    minor_upgrades:
      description: Minor engine versions the instance can move to.
      type: list
      elements: str
    certificate:
      description: Status, expiry and days left.
      type: dict
    secrets:
      description: Each secret of the deployment with its age in days since it last changed.
      type: list
      elements: dict
    alarms_fired:
      description: Alarms of the region that went to ALARM in the period, with when.
      type: list
      elements: dict
    task_definitions_in_use:
      description: The task-definition revisions of the service's deployments.
      type: list
      elements: str
failed_checks:
  description: The checks that failed (backup too old, certificate expiring), in words; empty when all passed.
  returned: always
  type: list
  elements: str
read_errors:
  description: Reads that failed, by name, with the error.
  returned: always
  type: dict
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names
from ansible_collections.medzen.ehrbase.plugins.module_utils.reads import Reader, plain
from ansible_collections.medzen.ehrbase.plugins.module_utils.replica import LAG_LIMIT_SECONDS, replica_lag, replication_state


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def hours_since(when):
    return round((now() - when).total_seconds() / 3600.0, 1) if when else None


def backup_facts(r, report, identifier, max_age):
    rds = r.client("rds")
    found = r.read("rds", lambda: rds.describe_db_instances(DBInstanceIdentifier=identifier, aws_retry=True))
    if not found:
        return None
    db = found["DBInstances"][0]
    latest = db.get("LatestRestorableTime")
    age = hours_since(latest)
    report["backup"] = {"latest_restorable_time": plain(latest), "age_hours": age,
                        "retention_days": db.get("BackupRetentionPeriod"), "ok": age is not None and age <= max_age}
    copies = []
    for rep in db.get("DBInstanceAutomatedBackupsReplications", []):
        arn = rep.get("DBInstanceAutomatedBackupsArn", "")
        dest = arn.split(":")[3] if arn.count(":") > 3 else None
        answer = r.read("rds_copy_" + str(dest), lambda: r.client("rds", dest).describe_db_instance_automated_backups(
            DBInstanceAutomatedBackupsArn=arn, aws_retry=True)) if dest else None
        backups = (answer or {}).get("DBInstanceAutomatedBackups", [])
        latest_copy = (backups[0].get("RestoreWindow") or {}).get("LatestTime") if backups else None
        copies.append({"region": dest, "latest_restorable_time": plain(latest_copy), "age_hours": hours_since(latest_copy)})
    report["cross_region_copy"] = {"configured": bool(copies), "copies": copies}
    return db


def replica_facts(r, report, db):
    """A warm standby (docs/standby.md): its replication and how far it is behind its source."""
    state = replication_state(db)
    if not state["replica"]:
        return
    lag = r.read("replica_lag", lambda: replica_lag(r.client("cloudwatch"), db["DBInstanceIdentifier"], aws_retry=True))
    newest, highest, when = lag or (None, None, "")
    report["replica"] = dict(state, lag_seconds=newest, max_lag_seconds=highest, lag_at=when)


def checks(report, p, names):
    """The checks that failed, in words."""
    failed = []
    backup, replica = report.get("backup"), report.get("replica")
    if backup is None:
        failed.append("no database %s to read backups from" % names["db"])
    elif not backup["ok"] and not replica:
        failed.append("newest backup is %s hours old (limit %d)" % (backup["age_hours"], p["backup_max_age_hours"]))
    if replica and replica["replication_message"]:
        failed.append("the warm standby does not replicate from its source (%s)" % replica["replication_message"])
    elif replica and (replica["max_lag_seconds"] or 0) > LAG_LIMIT_SECONDS:
        failed.append("the warm standby was up to %d s behind its source (limit %d)"
                      % (replica["max_lag_seconds"], LAG_LIMIT_SECONDS))
    cert = report.get("certificate")
    if cert and cert.get("ok") is False:
        failed.append("certificate %s, %s days left (limit %d)" % (cert["status"], cert["days_left"], p["certificate_min_days"]))
    return failed


def maintenance_facts(r, report, db):
    rds = r.client("rds")
    pending = r.read("rds_maintenance", lambda: rds.describe_pending_maintenance_actions(
        ResourceIdentifier=db["DBInstanceArn"], aws_retry=True))
    report["pending_maintenance"] = [
        dict(action=a.get("Action"), description=a.get("Description"), auto_applied_after=plain(a.get("AutoAppliedAfterDate")),
             forced_apply=plain(a.get("ForcedApplyDate")))
        for item in (pending or {}).get("PendingMaintenanceActions", []) for a in item.get("PendingMaintenanceActionDetails", [])]
    versions = r.read("rds_versions", lambda: rds.describe_db_engine_versions(
        Engine=db["Engine"], EngineVersion=db["EngineVersion"], aws_retry=True))
    report["minor_upgrades"] = sorted(
        t["EngineVersion"] for v in (versions or {}).get("DBEngineVersions", []) for t in v.get("ValidUpgradeTarget", [])
        if not t.get("IsMajorVersionUpgrade")) if versions is not None else None


def certificate_facts(r, report, domain, min_days):
    acm = r.client("acm")
    listed = r.read("acm", lambda: acm.list_certificates(aws_retry=True))
    mine = [c for c in (listed or {}).get("CertificateSummaryList", []) if c.get("DomainName") == domain]
    cert = r.read("acm", lambda: acm.describe_certificate(CertificateArn=mine[0]["CertificateArn"], aws_retry=True)) if mine else None
    if not cert:
        report["certificate"] = None if listed is not None else {"status": "unknown"}
        return
    c = cert["Certificate"]
    days = (c["NotAfter"] - now()).days if c.get("NotAfter") else None
    report["certificate"] = {"status": c.get("Status"), "not_after": plain(c.get("NotAfter")), "days_left": days,
                             "ok": c.get("Status") == "ISSUED" and days is not None and days >= min_days}


def secret_facts(r, report, names):
    sm = r.client("secretsmanager")
    listed = r.read("secretsmanager", lambda: sm.list_secrets(
        Filters=[{"Key": "name", "Values": [names["secret_prefix"] + "/"]}], aws_retry=True))
    out = []
    for s in (listed or {}).get("SecretList", []):
        changed = s.get("LastRotatedDate") or s.get("LastChangedDate") or s.get("CreatedDate")
        out.append({"name": s["Name"], "last_changed": plain(changed),
                    "age_days": int(hours_since(changed) // 24) if changed else None,
                    "rotation_enabled": bool(s.get("RotationEnabled"))})
    report["secrets"] = sorted(out, key=lambda s: s["name"])


def alarm_facts(r, report, names, days):
    cw = r.client("cloudwatch")
    start = now() - datetime.timedelta(days=days)
    history = r.read("cloudwatch_history", lambda: cw.describe_alarm_history(
        HistoryItemType="StateUpdate", StartDate=start, EndDate=now(), ScanBy="TimestampDescending", aws_retry=True))
    report["alarms_fired"] = [
        {"alarm": h["AlarmName"], "when": plain(h.get("Timestamp")), "summary": h.get("HistorySummary")}
        for h in (history or {}).get("AlarmHistoryItems", [])
        if h.get("AlarmName", "").startswith(names["alarm_prefix"]) and "to ALARM" in (h.get("HistorySummary") or "")]


def service_facts(r, report, names):
    ecs = r.client("ecs")
    found = r.read("ecs", lambda: ecs.describe_services(cluster=names["cluster"], services=[names["service"]], aws_retry=True))
    services = [s for s in (found or {}).get("services", []) if s.get("status") != "INACTIVE"]
    report["task_definitions_in_use"] = sorted(set(d["taskDefinition"] for s in services for d in s.get("deployments", [])))


def gather(module):
    p = module.params
    r = Reader(module)
    report = {"region": module.region}
    names = resource_names(p["name_prefix"])
    db = backup_facts(r, report, names["db"], p["backup_max_age_hours"])
    if db:
        maintenance_facts(r, report, db)
        replica_facts(r, report, db)
    certificate_facts(r, report, p["domain"], p["certificate_min_days"])
    secret_facts(r, report, names)
    alarm_facts(r, report, names, p["alarm_history_days"])
    service_facts(r, report, names)
    failed = checks(report, p, names)
    return report, failed, r.errors


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name_prefix=dict(type="str", required=True),
            domain=dict(type="str", required=True),
            backup_max_age_hours=dict(type="int", default=26),
            certificate_min_days=dict(type="int", default=30),
            alarm_history_days=dict(type="int", default=7),
        ),
        supports_check_mode=True,
    )
    report, failed, errors = gather(module)
    module.exit_json(changed=False, report=report, failed_checks=failed, read_errors=errors)


if __name__ == "__main__":
    main()
