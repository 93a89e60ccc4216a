# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""What is wrong with a region, in plain words, from the evidence ehrbase_diagnose_info gathers.

Pure functions (no AWS call), so every rule is unit-tested with AWS-shaped evidence. A finding is
{"severity": "down"|"degraded"|"warning", "what": ..., "fix": ...}; a region is healthy when it has no finding
worse than a warning. Rules look at the causes first (service, tasks, database, network) so the conclusion
names the cause and not only the symptom (targets unhealthy).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.medzen.ehrbase.plugins.module_utils.replica import LAG_LIMIT_SECONDS, replication_state

SEVERITY_ORDER = {"down": 0, "degraded": 1, "warning": 2}
CERT_WARN_DAYS = 30


def _finding(severity, what, fix):
    return {"severity": severity, "what": what, "fix": fix}


ESSENTIAL_READS = ("ecs", "elbv2", "rds")


def read_error_findings(ev):
    errors = ev.get("read_errors") or {}
    return [_finding("degraded" if name in ESSENTIAL_READS else "warning",
                     "could not read %s: %s" % (name, errors[name][:300]),
                     "check the credentials' permissions and the AWS Health Dashboard for %s" % ev.get("region"))
            for name in sorted(errors)]


def service_findings(ev):
    if "service" not in ev:
        return []  # not read (see read errors)
    svc = ev.get("service")
    if not svc:
        return [_finding("down", "no ECS service %s in cluster %s" % (ev.get("service_name"), ev.get("cluster_name")),
                         "deploy it: ansible-playbook site.yml -l %s" % ev.get("region"))]
    out = []
    if svc.get("status") != "ACTIVE":
        out.append(_finding("down", "ECS service %s is %s" % (svc.get("serviceName"), svc.get("status")),
                            "run site.yml to recreate it"))
    elif svc.get("desiredCount", 0) == 0:
        out.append(_finding("down", "service at 0 desired tasks",
                            "a drill or rollback left it there; run site.yml (it restores the count and the "
                            "autoscaling minimum)"))
    failed = [d for d in svc.get("deployments", []) if d.get("rolloutState") == "FAILED"]
    primary = [d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"]
    if failed and primary and primary[0].get("rolloutState") == "COMPLETED" and failed[0] is not primary[0]:
        out.append(_finding("warning", "the last release (deployment %s) FAILED and was rolled back: %s" % (
            failed[0].get("id"), failed[0].get("rolloutStateReason", "")), "fix the task definition before the next release"))
    elif failed:
        what = "deployment %s FAILED: %s" % (failed[0].get("id"), failed[0].get("rolloutStateReason", ""))
        out.append(_finding("degraded", what,
                            "the circuit breaker rolls back to the previous revision; fix the task definition "
                            "before the next release"))
    return out


def _serving_fully(ev):
    """Every desired task runs behind a healthy target now."""
    targets = ev.get("targets")
    desired = (ev.get("service") or {}).get("desiredCount", 0)
    return bool(targets) and desired > 0 and len(targets) >= desired and all(
        t.get("TargetHealth", {}).get("State") == "healthy" for t in targets)


def _releasing(ev):
    """Revisions of deployments still in progress (a release under way)."""
    deployments = (ev.get("service") or {}).get("deployments", [])
    return set(d.get("taskDefinition") for d in deployments if d.get("rolloutState") == "IN_PROGRESS")


def stopped_task_findings(ev):
    tasks = ev.get("stopped_tasks") or []
    if not tasks:
        return []
    failing_release = [t for t in tasks if t.get("taskDefinitionArn") in _releasing(ev)]
    if failing_release:
        tasks = failing_release
    elif _serving_fully(ev):
        # AWS keeps stopped tasks for about an hour: once every target is healthy they are history.
        return [_finding("warning", "recovered: tasks stopped earlier (%s)" % tasks[0].get("stoppedReason", ""),
                         "none now; see the service events for when")]
    return _stopped_task_finding(ev, tasks)


def _stopped_task_finding(ev, tasks):
    """What the newest stopped task says, most specific cause first."""
    newest = tasks[0]
    reason = newest.get("stoppedReason", "")
    container = (newest.get("containers") or [{}])[0]
    image = container.get("image") or ev.get("image", "")
    detail = container.get("reason") or ""
    if "CannotPullContainerError" in reason or "CannotPullContainerError" in detail:
        return [_finding("down", "tasks stop: CannotPullContainerError - the image tag does not exist (%s)" % image,
                         "set ecs_ehrbase_version to a tag that exists in the registry and run upgrade/site.yml")]
    if "ResourceInitializationError" in reason:
        return [_finding("down", "tasks stop: %s" % reason,
                         "the task cannot read its secrets or pull its image: check the execution role, the "
                         "NAT gateways and the secrets' KMS key (run site.yml)")]
    if "ELB health checks" in reason:
        return [_finding("degraded", "tasks stop: %s (%d stopped recently)" % (reason, len(tasks)),
                         "the targets' health check fails: see the target health below")]
    exit_code = container.get("exitCode")
    if exit_code not in (None, 0) or "exited" in reason.lower():
        # With the old tasks still serving (a release under way), the region is degraded, not down.
        return [_finding("degraded" if _serving_fully(ev) else "down",
                         "tasks stop: %s (exit code %s, image %s)" % (reason, exit_code, image),
                         "EHRbase exits at start-up: read the container log in %s; roll back to the previous "
                         "revision (upgrade.yml with the previous ecs_ehrbase_version)" % ev.get("log_group", "CloudWatch Logs"))]
    return [_finding("warning", "tasks stopped recently: %s" % reason, "check the service events")]


def _codes(description):
    return re.findall(r"\b(\d{3})\b", description or "")


def target_findings(ev):
    targets = ev.get("targets")
    if targets is None:
        return []
    path = ev.get("health_check_path", "")
    total = len(targets)
    healthy = [t for t in targets if t.get("TargetHealth", {}).get("State") == "healthy"]
    if total == 0:
        return [_finding("down", "0 targets registered in %s" % ev.get("target_group_name", "the target group"),
                         "no task is running behind the load balancer: see the service and its stopped tasks")]
    if len(healthy) == total:
        return []
    unhealthy = [t for t in targets if t.get("TargetHealth", {}).get("State") != "healthy"]
    first = unhealthy[0]["TargetHealth"]
    reason, description = first.get("Reason", ""), first.get("Description", "")
    codes = sorted(set(c for t in unhealthy for c in _codes(t.get("TargetHealth", {}).get("Description"))))
    severity = "down" if not healthy else "degraded"
    head = "%d/%d targets healthy (%s%s on %s)" % (len(healthy), total, reason,
                                                   " " + ",".join(codes) if codes else "", path)
    if reason in ("Elb.InitialHealthChecking", "Target.NotInUse", "Elb.RegistrationInProgress"):
        return [_finding("warning", head, "tasks are starting; diagnose again in a minute")]
    return [_finding(severity, head + (" - " + description if description and not codes else ""),
                     _target_fix(ev, reason, codes))]


def _target_fix(ev, reason, codes):
    """What to do about unhealthy targets, by the load balancer's reason."""
    if reason == "Target.ResponseCodeMismatch" and "401" in codes:
        return ("the health check needs a path that answers without login: the target group must check "
                "/ehrbase/management/health and the task definition must make the actuator health public - check "
                "the actuator settings of the task definition and run site.yml")
    if reason == "Target.ResponseCodeMismatch":
        return ("EHRbase answers %s on its health: not ready, or its database is unreachable - see the database and "
                "the container log" % ",".join(codes or ["an error"]))
    if reason == "Target.Timeout":
        return ("the load balancer cannot reach the tasks: the ECS security group must allow port %s from the ALB "
                "security group - run site.yml to restore the rule" % ev.get("target_port", 8080))
    return "read the container log in %s" % ev.get("log_group", "CloudWatch Logs")


def network_findings(ev):
    rule = ev.get("alb_to_tasks_rule")
    if rule is False:
        return [_finding("down", "no rule lets the ALB security group reach the tasks on port %s" % ev.get("target_port", 8080),
                         "run site.yml (the network role restores the ECS security group's rule)")]
    return []


def database_findings(ev, environment):
    if "database" not in ev:
        return []  # not read (see read errors)
    db = ev.get("database")
    if db is None:
        return [_finding("down", "database %s not found" % ev.get("db_identifier"), "run site.yml -l %s" % ev.get("region"))]
    out = []
    status = db.get("DBInstanceStatus")
    if status in ("stopped", "stopping"):
        out.append(_finding("down", "database %s is %s" % (db.get("DBInstanceIdentifier"), status),
                            "start it: aws rds start-db-instance --region %s --db-instance-identifier %s (AWS starts a "
                            "stopped instance again by itself after 7 days)" % (ev.get("region"), db.get("DBInstanceIdentifier"))))
    elif status not in ("available", "backing-up", "modifying", "maintenance", "configuring-enhanced-monitoring",
                        "configuring-log-exports", "upgrading"):
        out.append(_finding("down", "database %s is %s" % (db.get("DBInstanceIdentifier"), status),
                            "see the RDS events below and the RDS console"))
    if environment == "prod" and not db.get("MultiAZ"):
        out.append(_finding("warning", "database is not Multi-AZ", "run site.yml (rds_multi_az)"))
    return out + replica_findings(ev)


def replica_findings(ev):
    """A warm standby's read replica (docs/standby.md): replication stopped, or lagging."""
    db = ev.get("database") or {}
    state = replication_state(db)
    source = state["source"]
    if not source:
        return []
    if state["replication_message"]:  # a replication status that is not normal (none yet while it is created)
        return [_finding("degraded", "the warm standby %s does not replicate from %s (%s)" % (
            db.get("DBInstanceIdentifier"), source.split(":")[3] if source.count(":") >= 6 else source,
            state["replication_message"]),
            "if the source region is lost, fail over: playbooks/failover_region.yml (docs/standby.md); else see the "
            "RDS events below - a replica that cannot catch up is rebuilt by site.yml after deleting it")]
    lag = ev.get("replica_lag_seconds")
    if lag is not None and lag > LAG_LIMIT_SECONDS:
        return [_finding("degraded", "the warm standby %s is %d s behind its source" % (db.get("DBInstanceIdentifier"), lag),
                         "a failover now would lose up to that much; check the source's write load and the replica's "
                         "class (rds_instance_class), and the ReplicaLag alarm")]
    return []


def alarm_findings(ev):
    alarms = ev.get("alarms_in_alarm") or []
    if not alarms:
        return []
    names = ", ".join(a.get("AlarmName", "?") for a in alarms[:5])
    return [_finding("degraded", "%d alarm(s) in ALARM: %s" % (len(alarms), names),
                     "open the dashboard; each alarm's description says what it watches")]


def certificate_findings(ev, days_left):
    cert = ev.get("certificate")
    if not cert:
        return [_finding("warning", "no certificate found for %s" % ev.get("domain"), "run site.yml")]
    if cert.get("Status") != "ISSUED":
        return [_finding("down", "certificate %s is %s" % (cert.get("DomainName"), cert.get("Status")),
                         "its DNS validation records must be in the hosted zone; run site.yml")]
    if days_left is not None and days_left < CERT_WARN_DAYS:
        return [_finding("warning", "certificate expires in %d days" % days_left,
                         "ACM renews DNS-validated certificates when the validation records exist; check them")]
    return []


def health_check_findings(ev):
    hc = ev.get("health_check")
    if not hc:
        return []
    failing = [o for o in hc.get("observations", []) if not (o.get("StatusReport", {}).get("Status", "")).startswith("Success")]
    if not failing or len(failing) * 2 < len(hc.get("observations", [])):
        return []
    return [_finding("degraded", "Route53 health check failing from %d/%d checkers: %s" % (
        len(failing), len(hc["observations"]), failing[0].get("StatusReport", {}).get("Status", "")),
        "Route53 sends this region's users elsewhere until it passes")]


def conclude(ev, environment="prod", cert_days_left=None):
    """Evidence of one region -> {healthy, status, findings, summary}."""
    findings = []
    findings += service_findings(ev)
    findings += stopped_task_findings(ev)
    findings += database_findings(ev, environment)
    findings += network_findings(ev)
    if not any(f["severity"] == "down" and "0 desired" in f["what"] for f in findings):
        findings += target_findings(ev)
    findings += certificate_findings(ev, cert_days_left)
    findings += alarm_findings(ev)
    findings += health_check_findings(ev)
    findings += read_error_findings(ev)
    findings.sort(key=lambda f: SEVERITY_ORDER[f["severity"]])
    worst = findings[0]["severity"] if findings else None
    healthy = worst in (None, "warning")
    status = "healthy" if healthy else ("unhealthy" if worst == "down" else "degraded")
    region = ev.get("region", "?")
    if healthy:
        summary = "%s healthy" % region + ("" if not findings else " (warnings: %s)" % "; ".join(f["what"] for f in findings))
    else:
        first = findings[0]
        summary = "%s %s: %s - %s" % (region, status, first["what"], first["fix"])
    return {"healthy": healthy, "status": status, "findings": findings, "summary": summary}
