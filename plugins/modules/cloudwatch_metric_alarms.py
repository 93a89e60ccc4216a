#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudwatch_metric_alarms
short_description: A set of CloudWatch metric alarms (plain or metric math) converged in one call, idempotent
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates or updates every alarm of O(alarms) - each on one metric (namespace, metric, statistic, dimensions) or on
    a metric math expression - with the same alarm and OK actions.
  - Reads them with one C(DescribeAlarms) call, compares each with its wanted definition (the metric queries
    included) and writes only the alarms that differ. Check mode writes nothing and says which alarms would change
    and how; with C(--diff) the fields that differ, before and after.
  - Alarms not in the list are left alone (teardown removes them by name).
  - Why a custom module - M(amazon.aws.cloudwatch_metric_alarm) converges one alarm per call, a Python process per
    alarm (nine per region here, the slowest task of a build), and rewrites every metric math alarm on every run
    because it drops C(Metrics) from its comparison.
options:
  alarms:
    description: The alarms.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Alarm name (after O(name_prefix)).
        type: str
        required: true
      description:
        description: Alarm description (what the operator reads in the notification; surrounding blanks removed).
        type: str
        default: ""
      namespace:
        description: Metric namespace (an alarm on one metric).
        type: str
      metric_name:
        description: Metric name (an alarm on one metric).
        type: str
      statistic:
        description: Statistic (an alarm on one metric; or O(alarms[].extended_statistic)).
        type: str
        choices: [SampleCount, Average, Sum, Minimum, Maximum]
      extended_statistic:
        description: Percentile statistic such as C(p95) (an alarm on one metric).
        type: str
      dimensions:
        description: Metric dimensions, name to value (an alarm on one metric).
        type: dict
        default: {}
      metrics:
        description:
          - Metric queries in the CloudWatch API shape (C(Id), C(Expression) or C(MetricStat), C(Label),
            C(ReturnData)) - an alarm on a metric math expression. Exactly one query returns data.
        type: list
        elements: dict
      comparison:
        description: Comparison operator.
        type: str
        choices: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold]
        default: GreaterThanThreshold
      threshold:
        description: Threshold.
        type: float
        required: true
      treat_missing_data:
        description: How missing data counts.
        type: str
        choices: [breaching, notBreaching, ignore, missing]
        default: missing
  name_prefix:
    description: Put before every alarm name (the region's resource prefix).
    type: str
    default: ""
  period:
    description: Period in seconds of the alarms on one metric.
    type: int
    default: 60
  evaluation_periods:
    description: Periods evaluated.
    type: int
    default: 5
  datapoints_to_alarm:
    description: Breaching periods (of O(evaluation_periods)) that fire an alarm.
    type: int
    default: 3
  alarm_actions:
    description: ARNs notified when an alarm fires.
    type: list
    elements: str
    default: []
  ok_actions:
    description: ARNs notified when it recovers.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The region's alarms
  medzen.ehrbase.cloudwatch_metric_alarms:
    period: 60
    alarm_actions: ["{{ topic_arn }}"]
    ok_actions: ["{{ topic_arn }}"]
    alarms:
      - name: medzen-prod-euw1-rds-cpu-high
        description: Database CPU above 80 %
        namespace: AWS/RDS
        metric_name: CPUUtilization
        statistic: Average
        dimensions: {DBInstanceIdentifier: medzen-prod-euw1-db}
        threshold: 80
        treat_missing_data: notBreaching
      - name: medzen-prod-euw1-alb-5xx-rate
        threshold: 1
        treat_missing_data: notBreaching
        metrics:
          - {Id: rate, Expression: "100 * FILL(errors, 0) / requests", Label: 5XX %, ReturnData: true}
          - Id: errors
            ReturnData: false
            MetricStat:
              Metric: {Namespace: AWS/ApplicationELB, MetricName: HTTPCode_Target_5XX_Count,
                       Dimensions: [{Name: LoadBalancer, Value: app/medzen-prod-euw1-alb/0123456789abcdef}]}
              Period: 60
              Stat: Sum
          - Id: requests
            ReturnData: false
            MetricStat:
              Metric: {Namespace: AWS/ApplicationELB, MetricName: RequestCount,
                       Dimensions: [{Name: LoadBalancer, Value: app/medzen-prod-euw1-alb/0123456789abcdef}]}
              Period: 60
              Stat: Sum
"""

RETURN = r"""
alarms:
  description: The alarms as CloudWatch describes them after the call (in check mode, the wanted definition of one
    that does not exist yet), keys in snake_case.
  returned: always
  type: list
  elements: dict
updated:
  description: Alarm name -> the fields that differed (or C(created)), for the alarms written (or, in check mode,
    that would be).
  returned: always
  type: dict
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.alarms import describe, differences, metrics_errors, normalise
from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS

ALARM = dict(
    name=dict(type="str", required=True),
    description=dict(type="str", default=""),
    namespace=dict(type="str"),
    metric_name=dict(type="str"),
    statistic=dict(type="str", choices=["SampleCount", "Average", "Sum", "Minimum", "Maximum"]),
    extended_statistic=dict(type="str"),
    dimensions=dict(type="dict", default={}),
    metrics=dict(type="list", elements="dict"),
    comparison=dict(type="str", default="GreaterThanThreshold",
                    choices=["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                             "LessThanOrEqualToThreshold"]),
    threshold=dict(type="float", required=True),
    treat_missing_data=dict(type="str", choices=["breaching", "notBreaching", "ignore", "missing"], default="missing"),
)


def wanted(p, alarm):
    want = dict(
        AlarmName=p["name_prefix"] + alarm["name"], AlarmDescription=alarm["description"].strip(),
        ComparisonOperator=alarm["comparison"],
        Threshold=float(alarm["threshold"]), EvaluationPeriods=p["evaluation_periods"],
        DatapointsToAlarm=p["datapoints_to_alarm"], TreatMissingData=alarm["treat_missing_data"],
        AlarmActions=sorted(p["alarm_actions"]), OKActions=sorted(p["ok_actions"]), ActionsEnabled=True,
    )
    if alarm["metrics"]:
        want["Metrics"] = [normalise(m) for m in alarm["metrics"]]
        return want
    want.update(Namespace=alarm["namespace"], MetricName=alarm["metric_name"], Period=p["period"],
                Dimensions=sorted(({"Name": k, "Value": str(v)} for k, v in alarm["dimensions"].items()),
                                  key=lambda d: d["Name"]))
    if alarm["extended_statistic"]:
        want["ExtendedStatistic"] = alarm["extended_statistic"]
    else:
        want["Statistic"] = alarm["statistic"]
    return want


def definition_errors(alarm):
    where = "%s: " % alarm["name"]
    if alarm["metrics"]:
        plain = [k for k in ("namespace", "metric_name", "statistic", "extended_statistic") if alarm[k]]
        return metrics_errors(alarm["metrics"], where) + (
            ["%sgive either metrics or %s, not both" % (where, ", ".join(plain))] if plain else [])
    missing = [k for k in ("namespace", "metric_name") if not alarm[k]]
    if bool(alarm["statistic"]) == bool(alarm["extended_statistic"]):
        missing.append("exactly one of statistic and extended_statistic")
    return ["%san alarm on one metric needs %s (or metrics, for metric math)" % (where, ", ".join(missing))] if missing else []


def ensure_present(client, module):
    """(changed, state) - every wanted alarm that differs is written, in one read and one write per change."""
    wants = [wanted(module.params, a) for a in module.params["alarms"]]
    haves = describe(client, [w["AlarmName"] for w in wants])
    updated, before, after = {}, {}, {}
    for want in wants:
        have = haves.get(want["AlarmName"])
        fields = ["created"] if have is None else differences(want, have)
        if fields:
            updated[want["AlarmName"]] = fields
            keys = list(want) if have is None else fields
            before[want["AlarmName"]] = dict((k, have.get(k)) for k in keys) if have else {}
            after[want["AlarmName"]] = dict((k, want[k]) for k in keys)
            if not module.check_mode:
                client.put_metric_alarm(aws_retry=True, **want)
    if updated and not module.check_mode:
        haves = describe(client, [w["AlarmName"] for w in wants])
    alarms = [camel_dict_to_snake_dict(haves.get(w["AlarmName"], w)) for w in wants]
    return bool(updated), {"alarms": alarms, "updated": updated, "diff": {"before": before, "after": after}}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            alarms=dict(type="list", elements="dict", required=True, options=ALARM),
            name_prefix=dict(type="str", default=""),
            period=dict(type="int", default=60),
            evaluation_periods=dict(type="int", default=5),
            datapoints_to_alarm=dict(type="int", default=3),
            alarm_actions=dict(type="list", elements="str", default=[]),
            ok_actions=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    errors = sum([definition_errors(a) for a in module.params["alarms"]], [])
    if errors:
        module.fail_json(msg="Invalid alarm definition(s); nothing was changed: %s." % "; ".join(errors), errors=errors)
    try:
        changed, state = ensure_present(module.client("cloudwatch", retry_decorator=RETRY), module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not converge the alarms in %s" % module.region)
    diff = state.pop("diff")
    if module._diff:
        state["diff"] = diff
    module.exit_json(changed=changed, **state)


if __name__ == "__main__":
    main()
