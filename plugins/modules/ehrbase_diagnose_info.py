#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_diagnose_info
short_description: Gather what is wrong with one EHRbase region and conclude in plain words
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Read-only. Makes only Describe, List and Get calls, each retried with jittered back-off on throttling.
  - Gathers, for one region, what an operator would read by hand at 3 a.m. - the ECS service (running, desired and
    pending tasks, deployments and their rolloutState, the newest service events), the tasks that stopped recently
    with their stoppedReason and container exit codes, the target group's health with reason codes, whether the
    ALB security group may reach the tasks, the database status, Multi-AZ, pending maintenance and its events of the
    last 24 hours, the alarms in ALARM, the certificate's status and expiry, and the region's Route53 health check
    with the checkers' last reports.
  - Then concludes what is wrong and what to do (see M(medzen.ehrbase.ehrbase_diagnose_info) RETURN C(conclusion)).
  - Why a custom module - no upstream module reads stopped tasks, pending maintenance or RDS events, and one call per
    region (instead of a dozen info tasks) keeps a diagnosis of three regions to seconds.
  - A read that fails (no permission, API not answering) is reported in C(evidence.read_errors) and in the
    conclusion; it never fails the module.
options:
  name_prefix:
    description: Prefix of the region's resource names; the names themselves follow the collection's one naming rule
      (the C(medzen.ehrbase.resource_names) filter - C(<prefix>-cluster), C(-ehrbase), C(-alb), C(-tg), C(-db)).
    type: str
    required: true
  domain:
    description: Public name of the service; the certificate's domain and C(<region>.<domain>) for the health check.
    type: str
    required: true
  environment:
    description: Environment name; C(prod) also warns about a database that is not Multi-AZ.
    type: str
    default: prod
  events_hours:
    description: Hours of RDS events to read.
    type: int
    default: 24
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Diagnose eu-west-1
  medzen.ehrbase.ehrbase_diagnose_info:
    region: eu-west-1
    name_prefix: medzen-prod-euw1
    domain: ehr.medzenhealth.app
  register: diagnosis

- name: Say it
  ansible.builtin.debug:
    msg: "{{ diagnosis.conclusion.summary }}"
"""

RETURN = r"""
conclusion:
  description: What is wrong and what to do.
  returned: always
  type: dict
  contains:
    healthy:
      description: No finding worse than a warning.
      type: bool
    status:
      description: C(healthy), C(degraded) or C(unhealthy).
      type: str
    summary:
      description: One line for the operator, e.g. C(eu-central-1 unhealthy - service at 0 desired tasks - ...).
      type: str
    findings:
      description: Every finding, worst first, each with C(severity), C(what) and C(fix).
      type: list
      elements: dict
evidence:
  description: The API answers the conclusion was drawn from (AWS's own field names; times as ISO 8601).
  returned: always
  type: dict
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.diagnose import conclude
from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names
from ansible_collections.medzen.ehrbase.plugins.module_utils.reads import Reader, plain
from ansible_collections.medzen.ehrbase.plugins.module_utils.replica import replica_lag


def read_service(r, ev, cluster, service):
    ecs = r.client("ecs")
    found = r.read("ecs", lambda: ecs.describe_services(cluster=cluster, services=[service], aws_retry=True))
    if found is None:
        return
    active = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
    ev["service"] = plain(active[0]) if active else None
    if not active:
        return
    svc = ev["service"]
    svc["events"] = svc.get("events", [])[:5]
    td = r.read("ecs_task_definition", lambda: ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], aws_retry=True))
    if td:
        container = td["taskDefinition"]["containerDefinitions"][0]
        ev["image"] = container.get("image")
        ev["log_group"] = (container.get("logConfiguration") or {}).get("options", {}).get("awslogs-group")
    ev["stopped_tasks"] = read_stopped_tasks(r, cluster, service, svc)


def read_stopped_tasks(r, cluster, service, svc):
    """The five newest stopped tasks of the revisions the service deploys now, newest first."""
    ecs = r.client("ecs")
    arns = r.read("ecs_tasks", lambda: ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED",
                                                      aws_retry=True).get("taskArns", []))
    tasks = []
    if arns:
        described = r.read("ecs_tasks", lambda: ecs.describe_tasks(cluster=cluster, tasks=arns[:100], aws_retry=True))
        tasks = plain((described or {}).get("tasks", []))
    # Stopped tasks of revisions the service no longer deploys are history (AWS keeps them about an hour).
    in_use = set(d.get("taskDefinition") for d in svc.get("deployments", [])) | set([svc["taskDefinition"]])
    tasks = [t for t in tasks if t.get("taskDefinitionArn") in in_use]
    tasks.sort(key=lambda t: t.get("stoppedAt") or "", reverse=True)
    return [{"taskArn": t.get("taskArn"), "taskDefinitionArn": t.get("taskDefinitionArn"),
             "stoppedReason": t.get("stoppedReason"), "stoppedAt": t.get("stoppedAt"),
             "stopCode": t.get("stopCode"),
             "containers": [{"name": c.get("name"), "image": c.get("image"), "exitCode": c.get("exitCode"),
                             "reason": c.get("reason")} for c in t.get("containers", [])]}
            for t in tasks[:5]]


def read_targets(r, ev, names):
    elb = r.client("elbv2")
    groups = r.read("elbv2", lambda: elb.describe_target_groups(Names=[names["target_group"]], aws_retry=True))
    if not groups or not groups.get("TargetGroups"):
        return
    tg = groups["TargetGroups"][0]
    ev.update(target_group_name=tg["TargetGroupName"], health_check_path=tg.get("HealthCheckPath"),
              target_port=tg.get("Port"), matcher=tg.get("Matcher"))
    health = r.read("elbv2_health", lambda: elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"], aws_retry=True))
    if health is not None:
        ev["targets"] = plain(health.get("TargetHealthDescriptions", []))
    lbs = r.read("elbv2", lambda: elb.describe_load_balancers(Names=[names["alb"]], aws_retry=True))
    alb_groups = (lbs or {}).get("LoadBalancers", [{}])[0].get("SecurityGroups", []) if lbs else []
    svc = ev.get("service") or {}
    task_groups = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("securityGroups", [])
    if alb_groups and task_groups:
        ec2 = r.client("ec2")
        sgs = r.read("ec2", lambda: ec2.describe_security_groups(GroupIds=task_groups, aws_retry=True))
        if sgs is not None:
            ev["alb_to_tasks_rule"] = any(
                perm.get("FromPort", 0) <= (tg.get("Port") or 0) <= perm.get("ToPort", 65535)
                and any(pair.get("GroupId") in alb_groups for pair in perm.get("UserIdGroupPairs", []))
                for group in sgs["SecurityGroups"] for perm in group.get("IpPermissions", []))


def read_replica_lag(r, ev, identifier):
    """A warm standby's CloudWatch ReplicaLag, the highest of the last 5 minutes (docs/standby.md)."""
    found = r.read("replica_lag", lambda: replica_lag(r.client("cloudwatch"), identifier, aws_retry=True))
    ev["replica_lag_seconds"] = found[1] if found else None


def read_database(r, ev, identifier, hours):
    rds = r.client("rds")
    ev["db_identifier"] = identifier
    found = r.read("rds", lambda: rds.describe_db_instances(DBInstanceIdentifier=identifier, aws_retry=True))
    if found is None:
        if "DBInstanceNotFound" in r.errors.get("rds", ""):
            del r.errors["rds"]
            ev["database"] = None
        return
    db = plain(found["DBInstances"][0])
    ev["database"] = dict((k, db.get(k)) for k in (
        "DBInstanceIdentifier", "DBInstanceStatus", "MultiAZ", "Engine", "EngineVersion", "DBInstanceClass",
        "LatestRestorableTime", "PendingModifiedValues", "AutoMinorVersionUpgrade", "DBInstanceArn",
        "ReadReplicaSourceDBInstanceIdentifier", "StatusInfos"))
    if db.get("ReadReplicaSourceDBInstanceIdentifier"):
        read_replica_lag(r, ev, identifier)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    events = r.read("rds_events", lambda: rds.describe_events(SourceIdentifier=identifier, SourceType="db-instance",
                                                              StartTime=start, aws_retry=True))
    ev["database_events"] = plain((events or {}).get("Events", []))[-10:]
    pending = r.read("rds_maintenance", lambda: rds.describe_pending_maintenance_actions(
        ResourceIdentifier=db["DBInstanceArn"], aws_retry=True))
    if pending is not None:
        ev["pending_maintenance"] = plain(pending.get("PendingMaintenanceActions", []))


def read_alarms(r, ev, names):
    cw = r.client("cloudwatch")
    found = r.read("cloudwatch", lambda: cw.describe_alarms(AlarmNamePrefix=names["alarm_prefix"], StateValue="ALARM", aws_retry=True))
    if found is not None:
        ev["alarms_in_alarm"] = [{"AlarmName": a["AlarmName"], "StateReason": a.get("StateReason"),
                                  "StateUpdatedTimestamp": plain(a.get("StateUpdatedTimestamp"))}
                                 for a in found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
                                 if a.get("StateValue") == "ALARM"]  # checked again: some endpoints ignore the filter


def read_certificate(r, ev, domain):
    acm = r.client("acm")
    listed = r.read("acm", lambda: acm.list_certificates(aws_retry=True))
    if listed is None:
        return None
    mine = [c for c in listed.get("CertificateSummaryList", []) if c.get("DomainName") == domain]
    ev["certificate"] = None
    if not mine:
        return None
    cert = r.read("acm", lambda: acm.describe_certificate(CertificateArn=mine[0]["CertificateArn"], aws_retry=True))
    if not cert:
        return None
    c = cert["Certificate"]
    ev["certificate"] = plain(dict((k, c.get(k)) for k in ("CertificateArn", "DomainName", "Status", "NotAfter", "RenewalEligibility")))
    if c.get("NotAfter"):
        return (c["NotAfter"] - datetime.datetime.now(c["NotAfter"].tzinfo)).days
    return None


def read_health_check(r, ev, fqdn):
    route53 = r.client("route53", region="us-east-1")
    checks = r.read("route53", lambda: route53.list_health_checks(aws_retry=True))
    if checks is None:
        return
    mine = [h for h in checks.get("HealthChecks", [])
            if h.get("HealthCheckConfig", {}).get("FullyQualifiedDomainName", "").rstrip(".") == fqdn]
    if not mine:
        ev["health_check"] = None
        return
    status = r.read("route53", lambda: route53.get_health_check_status(HealthCheckId=mine[0]["Id"], aws_retry=True))
    ev["health_check"] = {"id": mine[0]["Id"], "fqdn": fqdn,
                          "observations": plain((status or {}).get("HealthCheckObservations", []))}


def diagnose(module):
    p = module.params
    region, names = module.region, resource_names(p["name_prefix"])
    r = Reader(module)
    ev = {"region": region, "cluster_name": names["cluster"], "service_name": names["service"], "domain": p["domain"]}
    read_service(r, ev, ev["cluster_name"], ev["service_name"])
    read_targets(r, ev, names)
    read_database(r, ev, names["db"], p["events_hours"])
    read_alarms(r, ev, names)
    days_left = read_certificate(r, ev, p["domain"])
    read_health_check(r, ev, "%s.%s" % (region, p["domain"]))
    ev["read_errors"] = r.errors
    return ev, conclude(ev, p["environment"], days_left)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name_prefix=dict(type="str", required=True),
            domain=dict(type="str", required=True),
            environment=dict(type="str", default="prod"),
            events_hours=dict(type="int", default=24),
        ),
        supports_check_mode=True,
    )
    evidence, conclusion = diagnose(module)
    module.exit_json(changed=False, evidence=evidence, conclusion=conclusion)


if __name__ == "__main__":
    main()
