"""Dashboard widgets, RDS connection limits and the cost estimate."""

import json
import os

import pytest
import yaml

from ansible_collections.medzen.ehrbase.plugins.module_utils.monitoring import (
    cost_estimate,
    dashboard_widgets,
    rds_max_connections,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = [
    {"region": r, "cluster": p + "-cluster", "service": p + "-ehrbase", "alb": "app/%s-alb/0a1b" % p,
     "target_group": "targetgroup/%s-tg/2c3d" % p, "db": p + "-db", "health_check_id": "hc-" + p}
    for r, p in (("eu-west-1", "m-euw1"), ("eu-central-1", "m-euc1"), ("af-south-1", "m-afs1"))
]


def test_every_metric_of_the_dashboard_has_its_regions_dimensions():
    widgets = dashboard_widgets(TARGETS)
    metric_widgets = [w for w in widgets if w["type"] == "metric"]
    assert len(metric_widgets) == 3 * 3 + 1
    for w in metric_widgets:
        for metric in w["properties"]["metrics"]:
            names = [m for m in metric if isinstance(m, str)]
            assert len(names) >= 4 and all(names[2:]), "metric without dimensions: %s" % metric
    body = json.dumps(widgets)
    for t in TARGETS:
        for value in (t["cluster"], t["alb"], t["db"], t["health_check_id"], '"region": "%s"' % t["region"]):
            assert value in body
    # Widgets stay inside the 24-column grid and do not overlap within a row.
    assert all(w["x"] + w["width"] <= 24 for w in widgets)


def test_a_warm_standby_shows_its_replica_lag_and_the_others_do_not():
    targets = [dict(t, standby_of="eu-west-1" if t["region"] == "eu-central-1" else "") for t in TARGETS]
    lag = [(w["properties"]["region"], w["properties"]["title"], m) for w in dashboard_widgets(targets)
           if w["type"] == "metric" for m in w["properties"]["metrics"] if "ReplicaLag" in m]
    assert lag == [("eu-central-1", "eu-central-1 RDS CPU / connections / free storage / replica lag",
                    ["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", "m-euc1-db",
                     {"stat": "Maximum", "label": "ReplicaLag (s) behind eu-west-1"}])]


def test_rds_max_connections_follows_the_rds_formula():
    assert rds_max_connections("db.t3.medium") == 450
    assert rds_max_connections("db.r6g.xlarge") == 3604
    with pytest.raises(ValueError, match="db.bogus"):
        rds_max_connections("db.bogus")


def test_cost_estimate_from_the_price_table():
    with open(os.path.join(ROOT, "playbooks", "vars", "aws_prices.yml")) as f:
        prices = yaml.safe_load(f)["aws_prices"]
    assert prices["as_of"]
    sizes = dict(tasks=2, task_vcpu=1, task_memory_gib=2, db_class="db.t3.medium", multi_az=True, storage_gib=100,
                 nat_gateways=2, albs=1, public_ipv4=4, health_checks=1, secrets=5, alarms=12)
    est = cost_estimate(sizes, prices["regions"]["eu-west-1"])
    assert est["rds_instance"] == round(2 * 730 * 0.077, 2)  # Multi-AZ doubles the instance
    assert est["total"] == round(sum(v for k, v in est.items() if k != "total"), 2)
    single = cost_estimate(dict(sizes, multi_az=False), prices["regions"]["eu-west-1"])
    assert single["rds_storage"] == est["rds_storage"] / 2
    for region in ("eu-west-1", "eu-central-1", "af-south-1"):
        assert cost_estimate(sizes, prices["regions"][region])["total"] > 0
    with pytest.raises(ValueError, match="no price for db.x"):
        cost_estimate(dict(sizes, db_class="db.x"), prices["regions"]["eu-west-1"])
