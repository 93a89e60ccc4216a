# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Monitoring helpers: RDS connection limits, the unified dashboard, the monthly cost estimate."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Memory (GiB) of the RDS classes we expect; max_connections = LEAST(memory_bytes / 9531392, 5000)
# (the RDS PostgreSQL default parameter group formula).
CLASS_MEMORY_GIB = {
    "db.t3.micro": 1, "db.t3.small": 2, "db.t3.medium": 4, "db.t3.large": 8, "db.t3.xlarge": 16, "db.t3.2xlarge": 32,
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8, "db.t4g.xlarge": 16,
    "db.m5.large": 8, "db.m5.xlarge": 16, "db.m5.2xlarge": 32, "db.m6g.large": 8, "db.m6g.xlarge": 16,
    "db.m6g.2xlarge": 32, "db.m6i.large": 8, "db.m6i.xlarge": 16, "db.m7g.large": 8, "db.m7g.xlarge": 16,
    "db.r5.large": 16, "db.r5.xlarge": 32, "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r6i.large": 16,
    "db.r7g.large": 16, "db.r7g.xlarge": 32,
}


def rds_max_connections(instance_class):
    if instance_class not in CLASS_MEMORY_GIB:
        raise ValueError("instance class %r has no known memory size; add it to CLASS_MEMORY_GIB in "
                         "plugins/module_utils/monitoring.py or set monitoring_rds_connections_percent "
                         "accordingly" % instance_class)
    return min(CLASS_MEMORY_GIB[instance_class] * 1024 ** 3 // 9531392, 5000)


def _metric(title, region, metrics, x, y, width=8, height=6, stat="Average", **props):
    properties = dict(title=title, region=region, stat=stat, period=300, view="timeSeries", metrics=metrics)
    properties.update(props)
    return dict(type="metric", x=x, y=y, width=width, height=height, properties=properties)


def dashboard_widgets(targets, health_region="us-east-1"):
    """One row per region (ECS, ALB, RDS) and a health-check row; every metric with its real dimensions.

    targets: [{region, cluster, service, alb, target_group, db, health_check_id, standby_of}] (alb/target_group are
    the ARN suffixes CloudWatch uses as dimensions: app/<name>/<id>, targetgroup/<name>/<id>; standby_of, the source
    region of a warm standby, adds its ReplicaLag).
    """
    widgets = [dict(type="text", x=0, y=0, width=24, height=1, properties=dict(
        markdown="# EHRbase - %s" % ", ".join(t["region"] for t in targets)))]
    y = 1
    for t in targets:
        ecs = ["ClusterName", t["cluster"], "ServiceName", t["service"]]
        lb = ["LoadBalancer", t["alb"]]
        db = ["DBInstanceIdentifier", t["db"]]
        widgets.append(dict(type="text", x=0, y=y, width=24, height=1,
                            properties=dict(markdown="## %s" % t["region"])))
        y += 1
        widgets.append(_metric("%s ECS CPU / memory %%" % t["region"], t["region"], [
            ["AWS/ECS", "CPUUtilization"] + ecs,
            ["AWS/ECS", "MemoryUtilization"] + ecs,
            ["ECS/ContainerInsights", "RunningTaskCount"] + ecs + [{"stat": "Minimum", "yAxis": "right"}],
        ], 0, y))
        widgets.append(_metric("%s ALB requests / 5XX / p95 latency" % t["region"], t["region"], [
            ["AWS/ApplicationELB", "RequestCount"] + lb + [{"stat": "Sum"}],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"] + lb + [{"stat": "Sum"}],
            ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"] + lb + [{"stat": "Sum"}],
            ["AWS/ApplicationELB", "TargetResponseTime"] + lb + [{"stat": "p95", "yAxis": "right"}],
        ], 8, y))
        rds = [
            ["AWS/RDS", "CPUUtilization"] + db,
            ["AWS/RDS", "DatabaseConnections"] + db + [{"yAxis": "right"}],
            ["AWS/RDS", "FreeStorageSpace"] + db + [{"stat": "Minimum", "yAxis": "right"}],
        ]
        title = "%s RDS CPU / connections / free storage" % t["region"]
        if t.get("standby_of"):  # a warm standby: how far its replica is behind its source (what a failover loses)
            rds.append(["AWS/RDS", "ReplicaLag"] + db + [{"stat": "Maximum", "label": "ReplicaLag (s) behind %s"
                                                          % t["standby_of"]}])
            title += " / replica lag"
        widgets.append(_metric(title, t["region"], rds, 16, y))
        y += 6
    checks = [["AWS/Route53", "HealthCheckStatus", "HealthCheckId", t["health_check_id"],
               {"label": t["region"]}] for t in targets if t.get("health_check_id")]
    if checks:
        widgets.append(_metric("Route53 health checks (1 = healthy)", health_region, checks, 0, y, width=24,
                               stat="Minimum", yAxis={"left": {"min": 0, "max": 1}}))
    return widgets


HOURS_PER_MONTH = 730


def cost_estimate(sizes, prices):
    """Monthly list-price estimate of one region. sizes: tasks, task_vcpu, task_memory_gib, db_class, multi_az,
    storage_gib, nat_gateways, albs, health_checks, secrets, alarms, public_ipv4; prices: one region's table.
    Returns {item: USD} with a 'total'."""
    hours = HOURS_PER_MONTH
    db_factor = 2 if sizes.get("multi_az", True) else 1
    if sizes["db_class"] not in prices["rds_instance_hour"]:
        raise ValueError("no price for %s in this region's table (data/aws_prices.yml)" % sizes["db_class"])
    items = {
        "fargate": sizes["tasks"] * hours * (sizes["task_vcpu"] * prices["fargate_vcpu_hour"]
                                             + sizes["task_memory_gib"] * prices["fargate_gb_hour"]),
        "rds_instance": db_factor * hours * prices["rds_instance_hour"][sizes["db_class"]],
        "rds_storage": db_factor * sizes["storage_gib"] * prices["rds_gp3_gb_month"],
        "nat_gateways": sizes["nat_gateways"] * hours * prices["nat_gateway_hour"],
        "alb": sizes["albs"] * hours * (prices["alb_hour"] + prices["alb_lcu_hour"]),
        "public_ipv4": sizes["public_ipv4"] * hours * prices["public_ipv4_hour"],
        "route53_health_checks": sizes["health_checks"] * prices["route53_health_check_month"],
        "secrets_kms": sizes["secrets"] * prices["secret_month"] + prices["kms_key_month"],
        "cloudwatch_alarms": sizes["alarms"] * prices["alarm_metric_month"],
    }
    items = {k: round(v, 2) for k, v in items.items()}
    items["total"] = round(sum(items.values()), 2)
    return items
