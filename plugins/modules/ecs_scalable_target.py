#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ecs_scalable_target
short_description: The task range (minimum and maximum) Application Auto Scaling keeps an ECS service in
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Registers the service's scalable target (ecs:service:DesiredCount) with the given minimum and maximum, or brings
    an existing one back to them - a minimum lowered by hand is drift (the service may fall to one task, in one AZ).
  - Why a custom module - M(community.aws.application_autoscaling_policy) registers the target as a side effect and,
    with C(override_task_capacity), calls RegisterScalableTarget even in check mode; it also cannot say what it
    would change. This module does only the range, honours check mode and returns a diff. The policies stay with the
    upstream module.
  - The service's scheduled actions are exclusive too. The collection declares none (the task range is the plan's),
    so any scheduled action on the target (say one that sets the service to 0 tasks every evening) is drift and is
    deleted; check mode reports it, C(--diff) names it. No upstream module manages scheduled actions.
  - Never deregisters a target.
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  service:
    description: Service name.
    type: str
    required: true
  minimum:
    description: Fewest tasks autoscaling may leave running.
    type: int
    required: true
  maximum:
    description: Most tasks autoscaling may start.
    type: int
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Two to four tasks
  medzen.ehrbase.ecs_scalable_target:
    cluster: medzen-prod-euw1-cluster
    service: medzen-prod-euw1-ehrbase
    minimum: 2
    maximum: 4
"""

RETURN = r"""
target:
  description: The scalable target (resource_id, min_capacity, max_capacity), as it is after the run.
  returned: always
  type: dict
existed:
  description: Whether the target was registered before this run (false in check mode means it would be created).
  returned: always
  type: bool
removed_scheduled_actions:
  description: The scheduled actions nobody declared that this run deleted (or, in check mode, would delete).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS

DIMENSION = "ecs:service:DesiredCount"


def describe(client, resource_id):
    found = client.describe_scalable_targets(aws_retry=True, ServiceNamespace="ecs", ResourceIds=[resource_id],
                                             ScalableDimension=DIMENSION)["ScalableTargets"]
    return {"resource_id": resource_id, "min_capacity": found[0]["MinCapacity"],
            "max_capacity": found[0]["MaxCapacity"]} if found else None


def scheduled_actions(client, resource_id):
    """The names of the target's scheduled actions (every page)."""
    names, kwargs = [], {}
    while True:
        answer = client.describe_scheduled_actions(aws_retry=True, ServiceNamespace="ecs", ResourceId=resource_id,
                                                   ScalableDimension=DIMENSION, **kwargs)
        names.extend(a["ScheduledActionName"] for a in answer.get("ScheduledActions", []))
        if not answer.get("NextToken"):
            return sorted(names)
        kwargs = {"NextToken": answer["NextToken"]}


def ensure_no_scheduled_actions(client, module, resource_id):
    """Delete every scheduled action of the target: the plan declares none. Returns the names (to be) deleted."""
    extra = scheduled_actions(client, resource_id)
    if not module.check_mode:
        for name in extra:
            client.delete_scheduled_action(aws_retry=True, ServiceNamespace="ecs", ScheduledActionName=name,
                                           ResourceId=resource_id, ScalableDimension=DIMENSION)
    return extra


def ensure_present(client, module):
    p = module.params
    resource_id = "service/%s/%s" % (p["cluster"], p["service"])
    found = describe(client, resource_id)
    wanted = {"resource_id": resource_id, "min_capacity": p["minimum"], "max_capacity": p["maximum"]}
    before = dict(found, scheduled_actions=scheduled_actions(client, resource_id)) if found else None
    if found != wanted and not module.check_mode:
        client.register_scalable_target(aws_retry=True, ServiceNamespace="ecs", ResourceId=resource_id,
                                        ScalableDimension=DIMENSION, MinCapacity=p["minimum"], MaxCapacity=p["maximum"])
    removed = ensure_no_scheduled_actions(client, module, resource_id) if found else []
    after = dict(wanted, scheduled_actions=[])
    return found != wanted or bool(removed), before, after, removed


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            service=dict(type="str", required=True),
            minimum=dict(type="int", required=True),
            maximum=dict(type="int", required=True),
        ),
        supports_check_mode=True,
    )
    if not 0 <= module.params["minimum"] <= module.params["maximum"]:
        module.fail_json(msg="minimum=%s, maximum=%s: the minimum must be between 0 and the maximum; nothing was changed."
                         % (module.params["minimum"], module.params["maximum"]))
    client = module.client("application-autoscaling", retry_decorator=RETRY)
    try:
        changed, before, after, removed = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not set the task range (or remove the scheduled actions) of ECS service %s"
                             % module.params["service"])
    target = dict((k, v) for k, v in after.items() if k != "scheduled_actions")
    module.exit_json(changed=changed, target=target, existed=before is not None, removed_scheduled_actions=removed,
                     diff={"before": before or {}, "after": after})


if __name__ == "__main__":
    main()
