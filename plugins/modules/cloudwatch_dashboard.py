#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudwatch_dashboard
short_description: CloudWatch dashboard from a structured definition, idempotent, with a diff of its body
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates, updates or deletes a CloudWatch dashboard. The body is built from O(widgets) (and O(period_override),
    O(start)) and compared with the stored body as data, so key order or formatting never causes a change.
  - The definition is checked before any call - every widget needs a known C(type), a C(properties) mapping, integer
    C(x)/C(y)/C(width)/C(height) inside the 24-column grid, and metric widgets need C(metrics) and C(region). A broken
    widget is reported with its index and title.
  - With C(--diff) the stored and the wanted body are shown as indented JSON.
  - Why a custom module - neither amazon.aws nor community.aws has a CloudWatch dashboard module.
options:
  name:
    description: Dashboard name (letters, digits, C(-) and C(_), up to 255 characters).
    type: str
    required: true
  state:
    description: C(present) puts the dashboard, C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  widgets:
    description:
      - Widgets in CloudWatch's dashboard body format (C(type), C(x), C(y), C(width), C(height), C(properties)).
      - Required with O(state=present).
    type: list
    elements: dict
  period_override:
    description: C(auto) or C(inherit), as in the dashboard body.
    type: str
    choices: [auto, inherit]
  start:
    description: Default time range of the dashboard, e.g. C(-PT3H).
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: One dashboard for the three regions
  medzen.ehrbase.cloudwatch_dashboard:
    name: medzen-prod-ehrbase
    start: -PT3H
    widgets:
      - type: metric
        x: 0
        y: 0
        width: 8
        height: 6
        properties:
          title: eu-west-1 ECS CPU / memory
          region: eu-west-1
          stat: Average
          period: 300
          metrics:
            - [AWS/ECS, CPUUtilization, ClusterName, medzen-prod-euw1-cluster, ServiceName, medzen-prod-euw1-ehrbase]

- name: Remove it
  medzen.ehrbase.cloudwatch_dashboard:
    name: medzen-prod-ehrbase
    state: absent
"""

RETURN = r"""
dashboard_arn:
  description: ARN of the dashboard (empty when absent, or in check mode before creation).
  returned: always
  type: str
body:
  description: The dashboard body as stored (or, in check mode, as it would be stored).
  returned: always
  type: dict
"""

import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS

WIDGET_TYPES = ("metric", "text", "alarm", "log", "explorer", "custom")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _grid_errors(label, w):
    """Position and size must fit CloudWatch's 24-column grid."""
    errors = []
    for key, low, high in (("x", 0, 23), ("y", 0, None), ("width", 1, 24), ("height", 1, 1000)):
        value = w.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            upto = " to %d" % high if high else ""
            errors.append("%s: %s=%r must be an integer from %d%s." % (label, key, value, low, upto))
    if isinstance(w.get("x"), int) and isinstance(w.get("width"), int) and w["x"] + w["width"] > 24:
        errors.append("%s: x + width = %d exceeds the 24-column grid." % (label, w["x"] + w["width"]))
    return errors


def _content_errors(label, kind, props):
    """What a metric or text widget cannot render without."""
    errors = []
    if kind == "metric":
        if not props.get("metrics") and not props.get("annotations"):
            errors.append("%s: a metric widget needs properties.metrics (a non-empty list)." % label)
        if not props.get("region"):
            errors.append("%s: a metric widget needs properties.region." % label)
    if kind == "text" and not props.get("markdown"):
        errors.append("%s: a text widget needs properties.markdown." % label)
    return errors


def widget_errors(widgets):
    """Every problem of the definition, as operator-facing messages."""
    errors = []
    for i, w in enumerate(widgets):
        props = w.get("properties")
        label = "widget %d (%s)" % (i, (props or {}).get("title") or w.get("type") or "no type")
        if w.get("type") not in WIDGET_TYPES:
            errors.append("%s: type %r is not one of %s." % (label, w.get("type"), ", ".join(WIDGET_TYPES)))
        if not isinstance(props, dict):
            errors.append("%s: properties must be a mapping." % label)
            continue
        errors.extend(_grid_errors(label, w))
        errors.extend(_content_errors(label, w.get("type"), props))
    return errors


def wanted_body(p):
    body = {"widgets": p["widgets"]}
    for key, param in (("periodOverride", "period_override"), ("start", "start")):
        if p[param]:
            body[key] = p[param]
    return body


def current(client, name):
    try:
        found = client.get_dashboard(aws_retry=True, DashboardName=name)
    except is_boto3_error_code("ResourceNotFound"):
        return None, {}
    return found.get("DashboardArn", ""), json.loads(found.get("DashboardBody") or "{}")


def dump(body):
    return json.dumps(body, indent=2, sort_keys=True) + "\n" if body else ""


def diff(before, after):
    return {"before": dump(before), "after": dump(after)}


def ensure_present(client, module):
    p = module.params
    want = wanted_body(p)
    arn, have = current(client, p["name"])
    if arn is not None and have == want:
        return False, arn, have, {}
    if not module.check_mode:
        result = client.put_dashboard(aws_retry=True, DashboardName=p["name"], DashboardBody=json.dumps(want))
        problems = result.get("DashboardValidationMessages") or []
        if problems:
            module.fail_json(msg="CloudWatch rejected parts of dashboard %s: %s" % (
                p["name"], "; ".join("%s: %s" % (m.get("DataPath"), m.get("Message")) for m in problems)))
        arn = current(client, p["name"])[0]
    return True, arn or "", want, diff(have, want)


def ensure_absent(client, module):
    name = module.params["name"]
    arn, have = current(client, name)
    if arn is None:
        return False, "", {}, {}
    if not module.check_mode:
        client.delete_dashboards(aws_retry=True, DashboardNames=[name])
    return True, "", {}, diff(have, {})


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            widgets=dict(type="list", elements="dict"),
            period_override=dict(type="str", choices=["auto", "inherit"]),
            start=dict(type="str"),
        ),
        required_if=[("state", "present", ("widgets",))],
        supports_check_mode=True,
    )
    p = module.params
    if not NAME.match(p["name"]):
        module.fail_json(msg="name=%r: a dashboard name is 1-255 letters, digits, '-' or '_'. Rename it." % p["name"])
    if p["state"] == "present":
        errors = widget_errors(p["widgets"])
        if errors:
            module.fail_json(msg="Dashboard %s has an invalid definition; nothing was changed. %s"
                             % (p["name"], " ".join(errors)), errors=errors)
    client = module.client("cloudwatch", retry_decorator=RETRY)
    try:
        if p["state"] == "absent":
            changed, arn, body, body_diff = ensure_absent(client, module)
        else:
            changed, arn, body, body_diff = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not converge CloudWatch dashboard %s" % p["name"])
    result = dict(changed=changed, dashboard_arn=arn, body=body)
    if module._diff and body_diff:
        result["diff"] = body_diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
