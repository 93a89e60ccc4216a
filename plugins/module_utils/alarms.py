# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""CloudWatch metric alarms as the API wants them, compared with what CloudWatch stores.

Used by cloudwatch_metric_alarms (a region's alarms in one call). The comparison covers the metric queries too:
amazon.aws.cloudwatch_metric_alarm drops them and then finds every metric math alarm changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.medzen.ehrbase.plugins.module_utils.ecs import subset_equal


def normalise(query):
    """API-shape query with the types CloudWatch returns (ReturnData default true, Period as int)."""
    out = dict(query)
    out.setdefault("ReturnData", True)
    if "MetricStat" in out:
        stat = dict(out["MetricStat"], Period=int(out["MetricStat"]["Period"]))
        metric = dict(stat["Metric"])
        metric["Dimensions"] = sorted(metric.get("Dimensions") or [], key=lambda d: d["Name"])
        stat["Metric"] = metric
        out["MetricStat"] = stat
    return out


def metrics_errors(metrics, where=""):
    """What is wrong with a metric math definition (exactly one query returns data, ids, one source per query)."""
    errors = []
    returning = [m.get("Id") for m in metrics if m.get("ReturnData", True)]
    if len(returning) != 1:
        errors.append("%sexactly one query must have ReturnData true (the alarm's value); these do: %s" % (where, returning))
    for i, m in enumerate(metrics):
        if not m.get("Id") or not str(m["Id"])[0].islower():
            errors.append("%smetrics[%d]: Id %r must start with a lower-case letter" % (where, i, m.get("Id")))
        if ("Expression" in m) == ("MetricStat" in m):
            errors.append("%smetrics[%d] (%s): give exactly one of Expression and MetricStat" % (where, i, m.get("Id")))
    return errors


def describe(client, names):
    """name -> the stored metric alarm, for the names that exist (up to 100 names per call)."""
    found = {}
    for start in range(0, len(names), 100):
        answer = client.describe_alarms(aws_retry=True, AlarmNames=names[start:start + 100], AlarmTypes=["MetricAlarm"])
        found.update((a["AlarmName"], a) for a in answer.get("MetricAlarms", []))
    return found


def differences(want, have):
    """The fields of `want` that the stored alarm `have` does not hold."""
    have = dict(have, AlarmActions=sorted(have.get("AlarmActions", [])), OKActions=sorted(have.get("OKActions", [])),
                Metrics=[normalise(m) for m in have.get("Metrics", [])],
                Dimensions=sorted(have.get("Dimensions") or [], key=lambda d: d["Name"]))
    return [k for k, v in want.items() if not subset_equal(v, have.get(k))]
