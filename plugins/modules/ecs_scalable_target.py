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


def ensure_present(client, module):
    p = module.params
    resource_id = "service/%s/%s" % (p["cluster"], p["service"])
    before = describe(client, resource_id)
    wanted = {"resource_id": resource_id, "min_capacity": p["minimum"], "max_capacity": p["maximum"]}
    if before == wanted:
        return False, before, before
    if not module.check_mode:
        client.register_scalable_target(aws_retry=True, ServiceNamespace="ecs", ResourceId=resource_id,
                                        ScalableDimension=DIMENSION, MinCapacity=p["minimum"], MaxCapacity=p["maximum"])
    return True, before, wanted


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
        changed, before, after = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not set the task range of ECS service %s" % module.params["service"])
    module.exit_json(changed=changed, target=after, existed=before is not None,
                     diff={"before": before or {}, "after": after})


if __name__ == "__main__":
    main()
