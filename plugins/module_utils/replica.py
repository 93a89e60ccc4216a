# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""A warm standby's read replica as RDS and CloudWatch describe it (docs/standby.md): its replication state and how
far it is behind its source (CloudWatch ReplicaLag).

Shared by rds_replica_info (the failover and switchover reports), ehrbase_diagnose_info (a broken or lagging replica
is a finding) and ehrbase_maintenance_info (the weekly report's replica line). amazon.aws.rds_instance_info returns
the instance but neither its StatusInfos in a usable form nor any CloudWatch metric.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

# Above this the replica is lagging: what a failover would lose is more than minutes of writes (the ReplicaLag
# alarm's default threshold, monitoring_replica_lag_seconds, is the same).
LAG_LIMIT_SECONDS = 300


def replication_state(db):
    """describe_db_instances' instance -> {replica, source, status, replicating, replication_message}."""
    infos = [i for i in db.get("StatusInfos") or [] if i.get("StatusType") == "read replication"]
    source = db.get("ReadReplicaSourceDBInstanceIdentifier") or ""
    return dict(replica=bool(source), source=source, status=db.get("DBInstanceStatus", ""),
                replicating=bool(infos) and all(i.get("Normal") for i in infos),
                replication_message="; ".join(i.get("Message") or i.get("Status", "") for i in infos
                                              if not i.get("Normal")))


def replica_lag(cloudwatch, identifier, minutes=5, **retry):
    """(newest, highest, newest's ISO time) of ReplicaLag in the last `minutes`; (None, None, "") without data.

    A retrying client takes aws_retry=True in `retry`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/RDS", MetricName="ReplicaLag", Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
        StartTime=now - datetime.timedelta(minutes=minutes), EndTime=now + datetime.timedelta(minutes=1), Period=60,
        Statistics=["Maximum"], **retry)["Datapoints"]
    if not points:
        return None, None, ""
    newest = max(points, key=lambda p: p["Timestamp"])
    return newest["Maximum"], max(p["Maximum"] for p in points), newest["Timestamp"].isoformat()
