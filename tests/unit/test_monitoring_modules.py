"""cloudwatch_dashboard and budget through ansible against the test emulator."""

import json
import re

import pytest

from helpers import aws, run_module

DASH = "medzen-test-ehrbase"


def widgets(cpu_region="eu-west-1"):
    return [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": "# EHRbase"}},
        {"type": "metric", "x": 0, "y": 1, "width": 12, "height": 6,
         "properties": {"title": "ECS CPU", "region": cpu_region, "stat": "Average", "period": 300,
                        "metrics": [["AWS/ECS", "CPUUtilization", "ClusterName", "c", "ServiceName", "s"]]}},
    ]


@pytest.fixture
def no_dashboard():
    cw = aws("cloudwatch")
    names = [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]]
    if names:
        cw.delete_dashboards(DashboardNames=names)
    return cw


def test_dashboard_create_rerun_update_delete(no_dashboard):
    cw = no_dashboard
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "widgets": widgets()},
                              check_mode=True)
    assert rc == 0 and res["changed"], out
    assert cw.list_dashboards()["DashboardEntries"] == [], "check mode created the dashboard"

    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "widgets": widgets(), "start": "-PT3H"})
    assert rc == 0 and res["changed"], out
    stored = json.loads(cw.get_dashboard(DashboardName=DASH)["DashboardBody"])
    assert stored == {"widgets": widgets(), "start": "-PT3H"}

    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "widgets": widgets(), "start": "-PT3H"})
    assert rc == 0 and not res["changed"], out

    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard",
                              {"name": DASH, "widgets": widgets("af-south-1"), "start": "-PT3H"}, diff=True)
    assert rc == 0 and res["changed"], out
    # --diff prints the bodies as a unified diff
    assert re.search(r'^-\s+"region": "eu-west-1"', out, re.M) and re.search(r'^\+\s+"region": "af-south-1"', out, re.M), out
    assert json.loads(cw.get_dashboard(DashboardName=DASH)["DashboardBody"])["widgets"][1]["properties"]["region"] \
        == "af-south-1"

    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "state": "absent"}, check_mode=True)
    assert rc == 0 and res["changed"] and cw.list_dashboards()["DashboardEntries"], out
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "state": "absent"})
    assert rc == 0 and res["changed"] and cw.list_dashboards()["DashboardEntries"] == [], out
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "state": "absent"})
    assert rc == 0 and not res["changed"], out


@pytest.mark.parametrize("bad, message", [
    ({"type": "chart", "properties": {}}, "widget 0 (chart): type 'chart' is not one of metric"),
    ({"type": "metric", "x": 20, "width": 8, "properties": {"title": "CPU", "region": "eu-west-1",
                                                            "metrics": [["AWS/ECS", "CPUUtilization"]]}},
     "widget 0 (CPU): x + width = 28 exceeds the 24-column grid"),
    ({"type": "metric", "properties": {"title": "CPU", "region": "eu-west-1"}},
     "widget 0 (CPU): a metric widget needs properties.metrics"),
    ({"type": "metric", "properties": {"title": "CPU", "metrics": [["AWS/ECS", "CPUUtilization"]]}},
     "widget 0 (CPU): a metric widget needs properties.region"),
])
def test_dashboard_invalid_definition_is_refused_before_any_call(no_dashboard, bad, message):
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_dashboard", {"name": DASH, "widgets": [bad]})
    assert rc != 0 and message in res["msg"] and "nothing was changed" in res["msg"], out
    assert no_dashboard.list_dashboards()["DashboardEntries"] == []


BUDGET = "medzen-test-monthly"


def notes(*thresholds, emails=("ops@example.org",)):
    return [{"type": t, "threshold": v, "emails": list(emails)} for t, v in thresholds]


@pytest.fixture
def budgets():
    client = aws("budgets", "us-east-1")
    account = aws("sts").get_caller_identity()["Account"]
    for b in client.describe_budgets(AccountId=account).get("Budgets", []):
        client.delete_budget(AccountId=account, BudgetName=b["BudgetName"])
    return client, account


def test_budget_create_rerun_update_delete(budgets):
    client, account = budgets
    args = {"name": BUDGET, "amount": 1500, "cost_filters": {"TagKeyValue": ["user:Project$medzen"]},
            "notifications": notes(("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))}
    rc, res, out = run_module("medzen.ehrbase.budget", args, check_mode=True)
    assert rc == 0 and res["changed"] and "created" in res["updated"], out
    assert client.describe_budgets(AccountId=account).get("Budgets", []) == []

    rc, res, out = run_module("medzen.ehrbase.budget", args)
    assert rc == 0 and res["changed"], out
    budget = client.describe_budget(AccountId=account, BudgetName=BUDGET)["Budget"]
    assert float(budget["BudgetLimit"]["Amount"]) == 1500 and budget["CostFilters"] == {"TagKeyValue": ["user:Project$medzen"]}
    stored = client.describe_notifications_for_budget(AccountId=account, BudgetName=BUDGET)["Notifications"]
    expected = [("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in stored) == expected

    rc, res, out = run_module("medzen.ehrbase.budget", args)
    assert rc == 0 and not res["changed"], out

    changed = dict(args, amount=2000, notifications=notes(("ACTUAL", 80), ("FORECASTED", 100),
                                                          emails=("ops@example.org", "cfo@example.org")))
    rc, res, out = run_module("medzen.ehrbase.budget", changed, diff=True)
    assert rc == 0 and res["changed"], out
    assert "limit" in res["updated"] and "notification- ACTUAL GREATER_THAN 100 PERCENTAGE" in res["updated"]
    assert "++ notification+ ACTUAL GREATER_THAN 80 PERCENTAGE" in out, out
    assert float(client.describe_budget(AccountId=account, BudgetName=BUDGET)["Budget"]["BudgetLimit"]["Amount"]) == 2000
    rc, res, out = run_module("medzen.ehrbase.budget", changed)
    assert rc == 0 and not res["changed"], out

    rc, res, out = run_module("medzen.ehrbase.budget", {"name": BUDGET, "state": "absent"}, check_mode=True)
    assert rc == 0 and res["changed"] and client.describe_budgets(AccountId=account)["Budgets"], out
    rc, res, out = run_module("medzen.ehrbase.budget", {"name": BUDGET, "state": "absent"})
    assert rc == 0 and res["changed"] and client.describe_budgets(AccountId=account).get("Budgets", []) == [], out
    rc, res, out = run_module("medzen.ehrbase.budget", {"name": BUDGET, "state": "absent"})
    assert rc == 0 and not res["changed"], out


@pytest.mark.parametrize("args, message", [
    ({"amount": 0}, "amount=0.0 must be a positive number"),
    ({"amount": 100, "notifications": [{"type": "ACTUAL", "threshold": 80}]},
     "notifications[0] (ACTUAL GREATER_THAN 80.0): needs at least one subscriber"),
    ({"amount": 100, "notifications": [{"type": "ACTUAL", "threshold": 80, "emails": ["ops-at-example"]}]},
     "'ops-at-example' is not an e-mail address"),
])
def test_budget_invalid_definition_is_refused_before_any_call(budgets, args, message):
    client, account = budgets
    rc, res, out = run_module("medzen.ehrbase.budget", dict(args, name=BUDGET))
    assert rc != 0 and message in res["msg"] and "nothing was changed" in res["msg"], out
    assert client.describe_budgets(AccountId=account).get("Budgets", []) == []


def rate_metrics(lb="app/alb/1", period=60):
    def stat(name):
        return {"Stat": "Sum", "Period": period, "Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": [{"Name": "LoadBalancer", "Value": lb}]}}
    return [{"Id": "rate", "Expression": "100 * FILL(errors, 0) / requests", "Label": "5XX %", "ReturnData": True},
            {"Id": "errors", "ReturnData": False, "MetricStat": stat("HTTPCode_Target_5XX_Count")},
            {"Id": "requests", "ReturnData": False, "MetricStat": stat("RequestCount")}]


def region_alarms(cpu=80):
    return [{"name": "ecs-cpu-high", "description": " CPU above %d %% \n" % cpu, "namespace": "AWS/ECS",
             "metric_name": "CPUUtilization", "statistic": "Average", "threshold": cpu,
             "dimensions": {"ServiceName": "svc", "ClusterName": "cluster"}, "treat_missing_data": "notBreaching"},
            {"name": "alb-latency-p95", "namespace": "AWS/ApplicationELB", "metric_name": "TargetResponseTime",
             "extended_statistic": "p95", "threshold": 2, "dimensions": {"LoadBalancer": "app/alb/1"}},
            {"name": "alb-5xx-rate", "metrics": rate_metrics(), "threshold": 1, "treat_missing_data": "notBreaching"}]


def set_threshold_by_hand(cw, alarm, threshold):
    keep = ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Statistic", "Dimensions", "Period",
            "EvaluationPeriods", "DatapointsToAlarm", "ComparisonOperator", "TreatMissingData", "AlarmActions",
            "OKActions")
    cw.put_metric_alarm(Threshold=threshold, **dict((k, v) for k, v in alarm.items() if k in keep))


def test_metric_alarms_converge_a_region_in_one_call_and_name_each_drift():
    cw = aws("cloudwatch")
    names = ["medzen-many-" + a["name"] for a in region_alarms()]
    cw.delete_alarms(AlarmNames=names)
    topic = "arn:aws:sns:eu-west-1:123456789012:alarms"
    args = {"name_prefix": "medzen-many-", "alarms": region_alarms(), "alarm_actions": [topic], "ok_actions": [topic]}
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_metric_alarms", args, check_mode=True)
    assert rc == 0 and sorted(res["updated"]) == sorted(names), out
    assert not cw.describe_alarms(AlarmNames=names)["MetricAlarms"]  # check mode: nothing written
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_metric_alarms", args)
    assert rc == 0 and res["changed"] and all(v == ["created"] for v in res["updated"].values()), out
    stored = dict((a["AlarmName"], a) for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"])
    assert stored[names[0]]["AlarmDescription"] == "CPU above 80 %" and stored[names[0]]["Threshold"] == 80
    assert stored[names[1]]["ExtendedStatistic"] == "p95" and len(stored[names[2]]["Metrics"]) == 3
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_metric_alarms", args)
    assert rc == 0 and not res["changed"] and res["updated"] == {}, out  # idempotent, metric math included
    # Drift by hand: one threshold changed. --check --diff names that alarm and field, and writes nothing.
    set_threshold_by_hand(cw, stored[names[0]], 95)
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_metric_alarms", args, check_mode=True, diff=True)
    assert rc == 0 and res["updated"] == {names[0]: ["Threshold"]}, out
    assert re.search(r"^-\s+\"Threshold\": 95\.0", out, re.M) and re.search(r"^\+\s+\"Threshold\": 80\.0", out, re.M), out
    assert cw.describe_alarms(AlarmNames=[names[0]])["MetricAlarms"][0]["Threshold"] == 95
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_metric_alarms", args)
    assert rc == 0 and res["updated"] == {names[0]: ["Threshold"]}, out
    assert cw.describe_alarms(AlarmNames=[names[0]])["MetricAlarms"][0]["Threshold"] == 80
    cw.delete_alarms(AlarmNames=names)


@pytest.mark.parametrize("alarm, message", [
    ({"name": "a", "threshold": 1, "namespace": "AWS/ECS"}, "a: an alarm on one metric needs metric_name"),
    ({"name": "b", "threshold": 1, "namespace": "N", "metric_name": "M", "statistic": "Average",
      "extended_statistic": "p95"}, "exactly one of statistic and extended_statistic"),
    ({"name": "c", "threshold": 1, "metrics": rate_metrics(), "namespace": "N"}, "c: give either metrics or namespace"),
])
def test_metric_alarms_invalid_definition_is_refused_before_any_call(alarm, message):
    rc, res, out = run_module("medzen.ehrbase.cloudwatch_metric_alarms", {"alarms": [alarm]})
    assert rc != 0 and message in res["msg"] and "nothing was changed" in res["msg"], out
