#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudwatch_metric_math_alarm
short_description: CloudWatch alarm on a metric math expression, idempotent
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates, updates or deletes a CloudWatch alarm whose value is a metric math expression (for example a 5XX rate in
    percent of requests), with alarm and OK actions.
  - Compares the stored alarm with the wanted one, the metric queries included, and writes only on a difference.
  - Why a custom module - M(amazon.aws.cloudwatch_metric_alarm) drops C(Metrics) from its comparison and then finds
    every metric math alarm different from its parameters, so it rewrites the alarm and reports a change on every run.
options:
  name:
    description: Alarm name.
    type: str
    required: true
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Alarm description (what the operator reads in the notification).
    type: str
    default: ""
  metrics:
    description:
      - Metric queries in the CloudWatch API shape (C(Id), C(Expression) or C(MetricStat), C(Label), C(ReturnData)).
        Exactly one query returns data (the alarm's value). Required with O(state=present).
    type: list
    elements: dict
  comparison:
    description: Comparison operator, e.g. C(GreaterThanThreshold).
    type: str
    choices: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold]
    default: GreaterThanThreshold
  threshold:
    description: Threshold compared with the expression's value. Required with O(state=present).
    type: float
  evaluation_periods:
    description: Periods evaluated.
    type: int
    default: 5
  datapoints_to_alarm:
    description: Breaching periods (of O(evaluation_periods)) that fire the alarm.
    type: int
    default: 3
  treat_missing_data:
    description: How missing data counts.
    type: str
    choices: [breaching, notBreaching, ignore, missing]
    default: missing
  alarm_actions:
    description: ARNs notified when the alarm fires.
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
- name: 5XX responses above 1 % of requests
  medzen.ehrbase.cloudwatch_metric_math_alarm:
    name: medzen-prod-euw1-alb-5xx-rate
    threshold: 1
    treat_missing_data: notBreaching
    alarm_actions: ["{{ topic_arn }}"]
    ok_actions: ["{{ topic_arn }}"]
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
alarm:
  description: The alarm as described by CloudWatch, keys in snake_case as amazon.aws.cloudwatch_metric_alarm returns
    them (empty when absent).
  returned: always
  type: dict
updated:
  description: The alarm fields that differed (or C(created), C(deleted)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils import alarms
from ansible_collections.medzen.ehrbase.plugins.module_utils.alarms import differences, metrics_errors, normalise
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def wanted(p):
    return dict(
        AlarmName=p["name"], AlarmDescription=p["description"], Metrics=[normalise(m) for m in p["metrics"]],
        ComparisonOperator=p["comparison"], Threshold=float(p["threshold"]), EvaluationPeriods=p["evaluation_periods"],
        DatapointsToAlarm=p["datapoints_to_alarm"], TreatMissingData=p["treat_missing_data"],
        AlarmActions=sorted(p["alarm_actions"]), OKActions=sorted(p["ok_actions"]), ActionsEnabled=True,
    )


def definition_errors(p):
    return metrics_errors(p["metrics"]) if p["state"] == "present" else []


def describe(client, name):
    return alarms.describe(client, [name]).get(name)


def ensure_present(client, module):
    want = wanted(module.params)
    have = describe(client, want["AlarmName"])
    updated = ["created"] if have is None else differences(want, have)
    if updated and not module.check_mode:
        client.put_metric_alarm(aws_retry=True, **want)
        have = describe(client, want["AlarmName"])
    return bool(updated), updated, have or want


def ensure_absent(client, module):
    have = describe(client, module.params["name"])
    if have is None:
        return False, [], {}
    if not module.check_mode:
        client.delete_alarms(aws_retry=True, AlarmNames=[module.params["name"]])
    return True, ["deleted"], {}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            description=dict(type="str", default=""),
            metrics=dict(type="list", elements="dict"),
            comparison=dict(type="str", default="GreaterThanThreshold",
                            choices=["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                                     "LessThanOrEqualToThreshold"]),
            threshold=dict(type="float"),
            evaluation_periods=dict(type="int", default=5),
            datapoints_to_alarm=dict(type="int", default=3),
            treat_missing_data=dict(type="str", choices=["breaching", "notBreaching", "ignore", "missing"],
                                    default="missing"),
            alarm_actions=dict(type="list", elements="str", default=[]),
            ok_actions=dict(type="list", elements="str", default=[]),
        ),
        required_if=[("state", "present", ("metrics", "threshold"))],
        supports_check_mode=True,
    )
    errors = definition_errors(module.params)
    if errors:
        module.fail_json(msg="Alarm %s has an invalid definition; nothing was changed: %s."
                         % (module.params["name"], "; ".join(errors)), errors=errors)
    client = module.client("cloudwatch", retry_decorator=RETRY)
    try:
        if module.params["state"] == "absent":
            changed, updated, alarm = ensure_absent(client, module)
        else:
            changed, updated, alarm = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not converge alarm %s" % module.params["name"])
    module.exit_json(changed=changed, updated=updated, alarm=camel_dict_to_snake_dict(alarm or {}))


if __name__ == "__main__":
    main()
