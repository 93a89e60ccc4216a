"""The diagnose conclusions: each rule with AWS-shaped evidence that triggers it and evidence that does not."""

import copy

import pytest

from ansible_collections.medzen.ehrbase.plugins.module_utils.diagnose import conclude


def healthy_region(region="eu-west-1"):
    return {
        "region": region, "cluster_name": "p-cluster", "service_name": "p-ehrbase", "domain": "ehr.example.org",
        "service": {"serviceName": "p-ehrbase", "status": "ACTIVE", "desiredCount": 2, "runningCount": 2,
                    "pendingCount": 0, "deployments": [{"id": "ecs-svc/1", "rolloutState": "COMPLETED"}],
                    "events": []},
        "image": "ehrbase/ehrbase:2.30.0", "log_group": "/ecs/p-ehrbase",
        "stopped_tasks": [],
        "target_group_name": "p-tg", "health_check_path": "/ehrbase/management/health", "target_port": 8080,
        "targets": [{"Target": {"Id": "10.0.11.10", "Port": 8080}, "TargetHealth": {"State": "healthy"}},
                    {"Target": {"Id": "10.0.12.11", "Port": 8080}, "TargetHealth": {"State": "healthy"}}],
        "alb_to_tasks_rule": True,
        "db_identifier": "p-db",
        "database": {"DBInstanceIdentifier": "p-db", "DBInstanceStatus": "available", "MultiAZ": True},
        "alarms_in_alarm": [],
        "certificate": {"DomainName": "ehr.example.org", "Status": "ISSUED"},
        "health_check": {"id": "hc", "observations": [{"StatusReport": {"Status": "Success: HTTP Status Code 200, OK"}}] * 3},
        "read_errors": {},
    }


def unhealthy_targets(reason, description):
    return [{"Target": {"Id": ip}, "TargetHealth": {"State": "unhealthy", "Reason": reason, "Description": description}}
            for ip in ("10.0.11.10", "10.0.12.11")]


def test_a_healthy_region_is_healthy():
    result = conclude(healthy_region(), "prod", cert_days_left=200)
    assert result["healthy"] and result["status"] == "healthy" and result["findings"] == []
    assert result["summary"] == "eu-west-1 healthy"


def test_zero_desired_tasks_names_the_drill_or_rollback_and_site():
    ev = healthy_region("eu-central-1")
    ev["service"]["desiredCount"] = 0
    ev["targets"] = []
    result = conclude(ev)
    assert not result["healthy"] and result["status"] == "unhealthy"
    assert result["summary"].startswith("eu-central-1 unhealthy: service at 0 desired tasks")
    assert "run site.yml" in result["summary"]
    # The symptom (no targets) is not reported as a second cause.
    assert [f["what"] for f in result["findings"]] == ["service at 0 desired tasks"]


def test_401_on_the_health_path_points_at_the_actuator_settings():
    ev = healthy_region()
    ev["health_check_path"] = "/ehrbase/rest/status"
    ev["targets"] = unhealthy_targets("Target.ResponseCodeMismatch", "Health checks failed with these codes: [401]")
    result = conclude(ev)
    assert result["status"] == "unhealthy"
    assert "0/2 targets healthy (Target.ResponseCodeMismatch 401 on /ehrbase/rest/status)" in result["summary"]
    assert "actuator settings of the task definition" in result["summary"]


def test_a_timeout_points_at_the_security_group_rule():
    ev = healthy_region()
    ev["alb_to_tasks_rule"] = False
    ev["targets"] = unhealthy_targets("Target.Timeout", "Request timed out")
    result = conclude(ev)
    whats = [f["what"] for f in result["findings"]]
    assert "no rule lets the ALB security group reach the tasks on port 8080" in whats
    assert any("Target.Timeout" in w for w in whats)
    assert "security group" in result["summary"]


def test_cannot_pull_container_names_the_missing_tag():
    ev = healthy_region()
    ev["stopped_tasks"] = [{"stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                            "containers": [{"image": "ehrbase/ehrbase:9.9.9", "exitCode": None}]}]
    ev["targets"] = []
    result = conclude(ev)
    assert "tasks stop: CannotPullContainerError - the image tag does not exist (ehrbase/ehrbase:9.9.9)" in result["summary"]


def test_a_container_that_exits_at_start_up_names_the_exit_code_and_the_log():
    ev = healthy_region()
    ev["stopped_tasks"] = [{"stoppedReason": "Essential container in task exited",
                            "containers": [{"image": "ehrbase/ehrbase:2.32.0-broken", "exitCode": 1}]}]
    ev["targets"] = unhealthy_targets("Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]")
    result = conclude(ev)
    assert result["status"] == "unhealthy"
    assert "exit code 1, image ehrbase/ehrbase:2.32.0-broken" in result["summary"] and "/ecs/p-ehrbase" in result["summary"]


def test_a_stopped_database_is_the_cause_with_the_start_command():
    ev = healthy_region("af-south-1")
    ev["database"]["DBInstanceStatus"] = "stopped"
    ev["targets"] = unhealthy_targets("Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]")
    result = conclude(ev)
    assert result["findings"][0]["what"] == "database p-db is stopped"
    assert "start-db-instance --region af-south-1" in result["summary"]


def test_single_az_database_is_only_a_warning_and_only_in_prod():
    ev = healthy_region()
    ev["database"]["MultiAZ"] = False
    assert conclude(ev, "prod")["healthy"] and conclude(ev, "prod")["findings"][0]["severity"] == "warning"
    assert conclude(ev, "local")["findings"] == []


def test_a_warm_standby_that_does_not_replicate_or_lags_is_degraded():
    ev = healthy_region("eu-central-1")
    ev["database"]["ReadReplicaSourceDBInstanceIdentifier"] = "arn:aws:rds:eu-west-1:123456789012:db:p-euw1-db"
    ev["database"]["StatusInfos"] = [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    ev["replica_lag_seconds"] = 2.0
    assert conclude(ev)["findings"] == []
    ev["replica_lag_seconds"] = 900.0
    result = conclude(ev)
    assert result["status"] == "degraded" and "is 900 s behind its source" in result["summary"]
    ev["database"]["StatusInfos"] = [{"StatusType": "read replication", "Normal": False, "Status": "error",
                                      "Message": "the source does not answer"}]
    result = conclude(ev)
    assert "does not replicate from eu-west-1 (the source does not answer)" in result["summary"]
    assert "failover_region.yml" in result["summary"]


def test_some_unhealthy_targets_is_degraded_not_down():
    ev = healthy_region()
    ev["targets"][1] = unhealthy_targets("Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]")[1]
    result = conclude(ev)
    assert result["status"] == "degraded" and "1/2 targets healthy" in result["summary"]


def test_starting_targets_are_a_warning():
    ev = healthy_region()
    ev["targets"] = unhealthy_targets("Elb.InitialHealthChecking", "Initial health checks in progress")
    assert conclude(ev)["healthy"]


@pytest.mark.parametrize("mutate,expected", [
    (lambda ev: ev.update(alarms_in_alarm=[{"AlarmName": "p-ecs-cpu-high"}]), "1 alarm(s) in ALARM: p-ecs-cpu-high"),
    (lambda ev: ev["certificate"].update(Status="PENDING_VALIDATION"), "certificate ehr.example.org is PENDING_VALIDATION"),
    (lambda ev: ev["service"]["deployments"].__setitem__(
        0, {"id": "ecs-svc/2", "status": "PRIMARY", "rolloutState": "FAILED", "rolloutStateReason": "circuit breaker"}),
     "deployment ecs-svc/2 FAILED: circuit breaker"),
    (lambda ev: ev["health_check"].update(observations=[{"StatusReport": {"Status": "Failure: HTTP Status Code 503"}}] * 3),
     "Route53 health check failing from 3/3 checkers"),
    (lambda ev: ev.update(read_errors={"ecs": "AccessDenied"}), "could not read ecs: AccessDenied"),
])
def test_other_rules(mutate, expected):
    ev = healthy_region()
    mutate(ev)
    result = conclude(ev)
    assert not result["healthy"] and expected in result["summary"], result


def test_an_unread_service_is_not_reported_missing():
    ev = healthy_region()
    del ev["service"]
    ev["read_errors"] = {"ecs": "Could not connect to the endpoint URL"}
    whats = [f["what"] for f in conclude(ev)["findings"]]
    assert not any("no ECS service" in w for w in whats)


def test_certificate_expiry_warning_threshold():
    ev = healthy_region()
    assert conclude(copy.deepcopy(ev), cert_days_left=29)["findings"][0]["what"] == "certificate expires in 29 days"
    assert conclude(copy.deepcopy(ev), cert_days_left=30)["findings"] == []


def test_stopped_tasks_are_history_once_every_target_is_healthy():
    ev = healthy_region()
    ev["stopped_tasks"] = [{"stoppedReason": "Task failed ELB health checks in (target-group x)", "containers": [{}]}]
    result = conclude(ev)
    assert result["healthy"] and result["findings"][0]["what"].startswith("recovered: tasks stopped earlier")
    ev["targets"] = ev["targets"][:1]  # one task missing: not recovered
    assert not conclude(ev)["healthy"]


def test_a_failed_release_that_was_rolled_back_is_a_warning():
    ev = healthy_region()
    ev["service"]["deployments"] = [
        {"id": "ecs-svc/3", "status": "PRIMARY", "rolloutState": "COMPLETED"},
        {"id": "ecs-svc/2", "status": "INACTIVE", "rolloutState": "FAILED", "rolloutStateReason": "circuit breaker"}]
    result = conclude(ev)
    assert result["healthy"] and "FAILED and was rolled back: circuit breaker" in result["findings"][0]["what"]


def test_tasks_of_a_release_in_progress_that_exit_are_named_while_the_old_ones_serve():
    ev = healthy_region()
    ev["service"]["deployments"] = [
        {"id": "ecs-svc/4", "status": "PRIMARY", "rolloutState": "IN_PROGRESS", "taskDefinition": "td:2"},
        {"id": "ecs-svc/3", "status": "ACTIVE", "rolloutState": "COMPLETED", "taskDefinition": "td:1"}]
    ev["stopped_tasks"] = [{"taskDefinitionArn": "td:2", "stoppedReason": "Essential container in task exited",
                            "containers": [{"image": "ehrbase/ehrbase:2.32.0-broken", "exitCode": 1}]}]
    result = conclude(ev)
    assert result["status"] == "degraded"
    assert "tasks stop: Essential container in task exited (exit code 1, image ehrbase/ehrbase:2.32.0-broken)" in result["summary"]


def test_a_read_survives_any_answer_a_service_gives_and_records_it():
    """One service answering garbage (an emulator's or a proxy's HTML 500 page) or refusing must not end a report;
    a bug in our own code must."""
    from botocore.exceptions import ClientError, EndpointConnectionError
    from botocore.parsers import ResponseParserError

    from ansible_collections.medzen.ehrbase.plugins.module_utils.reads import Reader

    r = Reader(None)

    def fail(exc):
        def call():
            raise exc
        return call

    assert r.read("rds_versions", fail(ResponseParserError("invalid XML received"))) is None
    assert r.read("ecs", fail(EndpointConnectionError(endpoint_url="https://ecs.af-south-1.amazonaws.com"))) is None
    assert r.read("kms", fail(ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeKey"))) is None
    assert sorted(r.errors) == ["ecs", "kms", "rds_versions"] and "invalid XML" in r.errors["rds_versions"]
    with pytest.raises(KeyError):
        r.read("bug", fail(KeyError("taskArns")))


def test_the_weekly_report_checks_a_warm_standby_by_its_replication_not_its_backups():
    from ansible_collections.medzen.ehrbase.plugins.modules.ehrbase_maintenance_info import checks

    params = {"backup_max_age_hours": 26, "certificate_min_days": 30}
    names = {"db": "m-euc1-db"}
    no_backup = {"latest_restorable_time": None, "age_hours": None, "retention_days": 0, "ok": False}
    replica = {"source": "arn:aws:rds:eu-west-1:1:db:m-euw1-db", "replicating": True, "replication_message": "",
               "lag_seconds": 0.0, "max_lag_seconds": 2.0}
    assert checks({"backup": no_backup, "replica": replica}, params, names) == []
    assert checks({"backup": no_backup}, params, names) == ["newest backup is None hours old (limit 26)"]
    stopped = dict(replica, replicating=False, replication_message="source unreachable")
    assert checks({"backup": no_backup, "replica": stopped}, params, names) == [
        "the warm standby does not replicate from its source (source unreachable)"]
    behind = dict(replica, max_lag_seconds=900.0)
    assert checks({"backup": no_backup, "replica": behind}, params, names) == [
        "the warm standby was up to 900 s behind its source (limit 300)"]
