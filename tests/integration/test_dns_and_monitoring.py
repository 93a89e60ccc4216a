"""DNS and monitoring: the Route53 tree and the routing it prints, each region's alarms, the dashboard and the
budget, and the failover drill with its rollback.

Runs on the shared deployment (tests/integration/conftest.py); the failover drill ends with `site.yml`, which puts
the tree and the task counts back.
"""

import pytest

from helpers import PREFIX, REGIONS, STANDBY, aws, changed_tasks, recap, run_playbook


def test_dns_tree_is_in_place_and_routing_printed(deployment):
    rc, out = deployment
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    r53 = aws("route53")
    zone = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "medzenhealth.app."][0]
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    by_name = {}
    for rec in records:
        by_name.setdefault((rec["Name"], rec["Type"]), []).append(rec)
    top = by_name[("ehr.medzenhealth.app.", "A")]
    assert sorted(r["SetIdentifier"] for r in top) == ["geo-africa", "geo-default", "geo-europe"]
    assert all(r["AliasTarget"]["EvaluateTargetHealth"] for r in top)
    eu = by_name[("eu.ehr.medzenhealth.app.", "A")]
    assert sorted(r["Failover"] for r in eu) == ["PRIMARY", "SECONDARY"] and all(r.get("HealthCheckId") for r in eu)
    checks = r53.list_health_checks()["HealthChecks"]
    assert len(checks) == 3
    for check in checks:
        cfg = check["HealthCheckConfig"]
        assert (cfg["Type"], cfg["ResourcePath"], cfg["RequestInterval"], cfg["FailureThreshold"]) == \
            ("HTTPS", "/ehrbase/management/health", 30, 3)


@pytest.mark.parametrize("region", REGIONS)
def test_monitoring_watches_this_regions_resources(deployment, region):
    prefix = PREFIX[region]
    alarms = aws("cloudwatch", region).describe_alarms(AlarmNamePrefix=prefix + "-")["MetricAlarms"]
    # The warm standby's region has one more: how far its replica is behind its source.
    lag = [a["AlarmName"] for a in alarms if a.get("MetricName") == "ReplicaLag"]
    assert len(alarms) == 9 + len(lag) and lag == ([prefix + "-rds-replica-lag"] if region in STANDBY else []), lag
    topic = [t["TopicArn"] for t in aws("sns", region).list_topics()["Topics"] if t["TopicArn"].endswith(prefix + "-alarms")]
    assert all(a["AlarmActions"] == topic and a["OKActions"] == topic for a in alarms)
    alb = aws("elbv2", region).describe_load_balancers(Names=[prefix + "-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
    dims = {d["Value"] for a in alarms for d in a.get("Dimensions", [])}
    assert {prefix + "-cluster", prefix + "-ehrbase", prefix + "-db", alb.split(":loadbalancer/")[1]} <= dims
    health = aws("cloudwatch", "us-east-1").describe_alarms(AlarmNamePrefix=prefix + "-route53-health")["MetricAlarms"]
    assert len(health) == 1 and health[0]["Dimensions"][0]["Name"] == "HealthCheckId"


def test_one_dashboard_and_the_budget(deployment):
    body = aws("cloudwatch", "eu-west-1").get_dashboard(DashboardName="medzen-local-ehrbase")["DashboardBody"]
    for prefix in ("medzen-local-euw1", "medzen-local-euc1", "medzen-local-afs1"):
        assert prefix + "-cluster" in body and prefix + "-db" in body
    assert '"ReplicaLag", "DBInstanceIdentifier", "medzen-local-euc1-db"' in body  # the warm standby's lag
    account = aws("sts").get_caller_identity()["Account"]
    budget = aws("budgets", "us-east-1").describe_budget(AccountId=account, BudgetName="medzen-local-ehrbase-monthly")
    assert float(budget["Budget"]["BudgetLimit"]["Amount"]) == 1500


def test_failover_drill_and_rollback_run_end_to_end(deployment):
    rc, out = run_playbook("playbooks/failover_drill.yml", "-e", "drill_region=eu-west-1")
    assert rc == 0, out[-4000:]
    assert "Africa -> af-south-1, Europe -> eu-central-1, elsewhere -> eu-central-1" in out
    assert "detected down after" in out and "healthy again" in out
    rc, out = run_playbook("playbooks/rollback_single_region.yml")
    assert rc == 0, out[-4000:]
    assert "Africa -> eu-west-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    ecs = aws("ecs", "af-south-1")
    svc = ecs.describe_services(cluster="medzen-local-afs1-cluster", services=["medzen-local-afs1-ehrbase"])["services"][0]
    assert svc["desiredCount"] == 0 and svc["status"] == "ACTIVE"  # scaled, not deleted
    rc, out = run_playbook("playbooks/rollback_single_region.yml")
    assert rc == 0 and all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
    # Undo = site.yml: the tree and the task counts come back, every region verified.
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-4000:]
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    svc = ecs.describe_services(cluster="medzen-local-afs1-cluster", services=["medzen-local-afs1-ehrbase"])["services"][0]
    assert svc["desiredCount"] == 2
