"""Day-2 reports on the converged deployment: diagnose (healthy, and five ways a region is sick), the maintenance
report and the cost report.

Runs on what the fault run converged, without a standby (`deployment_without_standby`, lane checks); each diagnose
test breaks one thing and puts it back. The standby's own findings: test_standby.py.
"""

import json
import time

from helpers import PREFIX, REGIONS, aws
from helpers import run_without_standby as run_playbook  # this lane's plan (helpers.WITHOUT_STANDBY)


def diagnose(tmp_path, *args):
    report = tmp_path / "diagnose.json"
    if report.exists():
        report.unlink()
    rc, out = run_playbook("playbooks/diagnose.yml", "-e", "report_file=%s" % report, *args)
    data = json.loads(report.read_text())["regions"] if report.exists() else {}
    return rc, out, data


def wait_until_one_deployment(region, timeout=60):
    """Let a rollout a test started finish (the emulated ECS completes a good one in seconds)."""
    ecs = aws("ecs", region)
    p = PREFIX[region]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"][0]
        if [d["rolloutState"] for d in svc["deployments"] if d["status"] != "INACTIVE"] == ["COMPLETED"]:
            return
        time.sleep(1)
    raise AssertionError("the rollout in %s did not finish: %s" % (region, svc["deployments"]))


def assert_only_region_named(rc, out, data, region, words):
    assert rc == 2, out[-3000:]
    assert data[region]["status"] != "healthy" and words in data[region]["summary"], data[region]
    assert all(data[r]["status"] == "healthy" for r in REGIONS if r != region), data


def test_diagnose_says_every_region_is_healthy(deployment_without_standby, tmp_path):
    rc, out, data = diagnose(tmp_path)
    assert rc == 0, out[-3000:]
    assert {r: data[r]["status"] for r in REGIONS} == {r: "healthy" for r in REGIONS}, data
    assert "HEALTHY  eu-west-1 healthy" in out
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    # -v shows the raw evidence; the run changes nothing in AWS (only the report file on the controller).
    rc, out, data = diagnose(tmp_path, "-v", "--check")
    assert rc == 0 and "__diagnose.evidence" in out and "TargetHealth" in out


def test_diagnose_names_a_service_scaled_to_zero(deployment_without_standby, tmp_path):
    ecs = aws("ecs", "eu-central-1")
    p = PREFIX["eu-central-1"]
    ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=0)
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-central-1", "service at 0 desired tasks")
        assert "Africa -> af-south-1, Europe -> eu-west-1" in out
    finally:
        ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=2)


def test_diagnose_names_an_image_that_never_becomes_healthy(deployment_without_standby, tmp_path):
    ecs = aws("ecs", "eu-west-1")
    p = PREFIX["eu-west-1"]
    svc = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "requiresCompatibilities",
            "cpu", "memory")
    broken = {k: td[k] for k in keep if k in td}
    broken["containerDefinitions"][0]["image"] = "ehrbase/ehrbase:2.32.0-broken"
    arn = ecs.register_task_definition(**broken)["taskDefinition"]["taskDefinitionArn"]
    # Without the circuit breaker ECS keeps starting tasks that exit, while the old ones serve (min healthy 100 %).
    config = svc.get("deploymentConfiguration") or {"maximumPercent": 200, "minimumHealthyPercent": 100}
    stuck = dict(config, deploymentCircuitBreaker={"enable": False, "rollback": False})
    ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", taskDefinition=arn, deploymentConfiguration=stuck)
    try:
        time.sleep(8)  # the emulated tasks start and exit after 6 s
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-west-1", "tasks stop: Essential container in task exited")
        assert "ehrbase/ehrbase:2.32.0-broken" in data["eu-west-1"]["summary"]
    finally:
        ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", taskDefinition=svc["taskDefinition"],
                           deploymentConfiguration=config)
        ecs.deregister_task_definition(taskDefinition=arn)
        wait_until_one_deployment("eu-west-1")


def test_diagnose_names_a_health_path_that_needs_a_login(deployment_without_standby, tmp_path):
    elb = aws("elbv2", "af-south-1")
    tg = elb.describe_target_groups(Names=[PREFIX["af-south-1"] + "-tg"])["TargetGroups"][0]
    elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath="/ehrbase/rest/status")
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "af-south-1",
                                 "0/2 targets healthy (Target.ResponseCodeMismatch 401 on /ehrbase/rest/status)")
        assert "actuator settings of the task definition" in data["af-south-1"]["summary"]
    finally:
        elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath=tg["HealthCheckPath"])


def test_diagnose_names_a_removed_rule_between_alb_and_tasks(deployment_without_standby, tmp_path):
    ec2 = aws("ec2", "eu-west-1")
    p = PREFIX["eu-west-1"]
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [p + "-alb-sg", p + "-ecs-sg"]}])["SecurityGroups"]}
    ecs_sg, alb_sg = groups[p + "-ecs-sg"], groups[p + "-alb-sg"]
    rule = [perm for perm in ecs_sg["IpPermissions"]
            if any(pair["GroupId"] == alb_sg["GroupId"] for pair in perm.get("UserIdGroupPairs", []))]
    assert rule, ecs_sg
    ec2.revoke_security_group_ingress(GroupId=ecs_sg["GroupId"], IpPermissions=rule)
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-west-1", "no rule lets the ALB security group reach the tasks")
        whats = " ".join(f["what"] for f in data["eu-west-1"]["findings"])
        assert "Target.Timeout" in whats
    finally:
        ec2.authorize_security_group_ingress(GroupId=ecs_sg["GroupId"], IpPermissions=rule)


def test_diagnose_names_a_stopped_database(deployment_without_standby, tmp_path):
    rds = aws("rds", "eu-central-1")
    db = PREFIX["eu-central-1"] + "-db"
    rds.stop_db_instance(DBInstanceIdentifier=db)
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-central-1", "database %s is stopped" % db)
        assert "start-db-instance --region eu-central-1" in data["eu-central-1"]["summary"]
    finally:
        rds.start_db_instance(DBInstanceIdentifier=db)
    rc, out, data = diagnose(tmp_path)
    assert rc == 0, out[-3000:]


def test_maintenance_report_has_its_table_and_json_and_fails_on_an_old_backup(deployment_without_standby, tmp_path):
    report = tmp_path / "weekly.json"
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", "report_file=%s" % report)
    assert rc == 0, out[-4000:]
    for words in ("backup: newest", "cross-region copy: not configured", "pending maintenance: none",
                  "secret medzen-local-euw1/ehrbase/db-master: last changed 0 days ago", "task definitions in use",
                  "cost 20"):
        assert words in out, words
    data = json.loads(report.read_text())
    assert sorted(data["regions"]) == sorted(REGIONS)
    for region in REGIONS:
        entry = data["regions"][region]
        assert entry["failed_checks"] == [] and entry["report"]["backup"]["ok"]
        assert len(entry["report"]["secrets"]) == 5 and entry["report"]["task_definitions_in_use"]
    assert data["cost"]["budget"]["limit"] == 1500
    # An alarm that fired is listed for its region only.
    cw = aws("cloudwatch", "af-south-1")
    alarm = cw.describe_alarms(AlarmNamePrefix=PREFIX["af-south-1"] + "-")["MetricAlarms"][0]["AlarmName"]
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", "report_file=%s" % report, "-l", "af-south-1,eu-west-1")
    data = json.loads(report.read_text())
    assert [a["alarm"] for a in data["regions"]["af-south-1"]["report"]["alarms_fired"]] == [alarm]
    assert data["regions"]["eu-west-1"]["report"]["alarms_fired"] == []
    # The backup-age threshold fails the report, naming the region and the age.
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", "maintenance_backup_max_age_hours=0",
                           "-e", "report_format=json", "-l", "eu-west-1")
    assert rc == 2 and "eu-west-1: newest backup is" in out and "(limit 0)" in out, out[-3000:]


def test_cost_report_by_region_and_service_beside_estimate_and_budget(deployment_without_standby, tmp_path):
    report = tmp_path / "cost.json"
    rc, out = run_playbook("playbooks/cost_report.yml", "-e", "report_file=%s" % report,
                           "-e", "cost_start=2026-10-01", "-e", "cost_end=2026-11-01")
    assert rc == 0, out[-4000:]
    assert "Actual cost 2026-10-01 .. 2026-11-01" in out and "Amazon Relational Database Service" in out
    data = json.loads(report.read_text())
    assert sorted(data["by_region"]) == sorted(list(REGIONS) + ["global"])
    assert abs(sum(data["by_region"].values()) - data["total"]) < 0.05
    assert abs(sum(data["by_service"].values()) - data["total"]) < 0.05
    assert data["forecast_month_total"] is None  # a past month has no forecast
    assert data["budget"]["limit"] == 1500 and sorted(data["estimate_month_by_region"]) == sorted(REGIONS)
    # Month to date (the default) comes with the month's forecast.
    rc, out = run_playbook("playbooks/cost_report.yml", "-e", "report_file=%s" % report)
    assert rc == 0, out[-4000:]
    data = json.loads(report.read_text())
    assert data["forecast_month_total"] is not None and data["forecast_month_total"] >= data["total"]
