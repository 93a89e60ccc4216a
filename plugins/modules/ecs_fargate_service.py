#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ecs_fargate_service
short_description: Fargate service that keeps an autoscaled task count and converges its deployment settings
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates a Fargate service, or updates an existing one where it differs - task definition, deployment configuration
    (minimum/maximum percent, circuit breaker with rollback), network configuration (subnets, security groups, public
    IP), load balancers, health-check grace period, tags.
  - The task count is set on creation only (O(desired_count_mode=initial)); afterwards it is left to autoscaling and
    only brought back inside [O(min_count), O(max_count)] if someone moved it outside. O(desired_count_mode=exact)
    sets it every run (failover drill, rollback to a single region).
  - Why a custom module - M(community.aws.ecs_service) resets a desired count that autoscaling changed, does not
    compare deployment or network configuration, and cannot change tags.
  - O(state=absent) removes the service together with its autoscaling (scaling policies, then the scalable target,
    then the service, forced so running tasks are stopped). Used by the teardown playbook only.
    M(community.aws.application_autoscaling_policy) cannot do the autoscaling part - it deletes in check mode and
    never deregisters the scalable target.
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  name:
    description: Service name.
    type: str
    required: true
  state:
    description: C(present) creates or converges the service; C(absent) deletes it and its autoscaling.
    type: str
    choices: [present, absent]
    default: present
  task_definition:
    description: Task definition ARN (family:revision). Required with O(state=present).
    type: str
  desired_count:
    description: Task count on creation (or always, with O(desired_count_mode=exact)). Required with O(state=present).
    type: int
  desired_count_mode:
    description: C(initial) leaves the count to autoscaling after creation; C(exact) enforces O(desired_count).
    type: str
    choices: [initial, exact]
    default: initial
  min_count:
    description: Lowest count re-runs accept (the autoscaling minimum).
    type: int
  max_count:
    description: Highest count re-runs accept (the autoscaling maximum).
    type: int
  subnets:
    description: Subnets of the tasks (private). Required with O(state=present).
    type: list
    elements: str
  security_groups:
    description: Security groups of the tasks. Required with O(state=present).
    type: list
    elements: str
  assign_public_ip:
    description: Give tasks a public IP (not for private subnets behind NAT).
    type: bool
    default: false
  load_balancers:
    description: Target groups, ECS API shape (C(targetGroupArn), C(containerName), C(containerPort)).
    type: list
    elements: dict
    default: []
  health_check_grace_period:
    description: Seconds ECS ignores failing load balancer health checks after a task starts.
    type: int
    default: 180
  minimum_healthy_percent:
    description: Deployment minimum healthy percent.
    type: int
    default: 100
  maximum_percent:
    description: Deployment maximum percent.
    type: int
    default: 200
  circuit_breaker:
    description: Deployment circuit breaker with automatic rollback.
    type: bool
    default: true
  enable_execute_command:
    description:
      - ECS Exec (a shell in the running containers). Enforced both ways - turned on by hand, it is turned off again.
      - Tasks started while it was on keep it until they are replaced (the next release or a task's restart).
    type: bool
    default: false
  platform_version:
    description: Fargate platform version.
    type: str
    default: LATEST
  tags:
    description: Tags to add or update (others are kept); propagated from the service to its tasks.
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: EHRbase service, 2 tasks on creation, autoscaling 2-4 afterwards
  medzen.ehrbase.ecs_fargate_service:
    cluster: medzen-prod-euw1-cluster
    name: medzen-prod-euw1-ehrbase
    task_definition: "{{ td.task_definition.taskDefinitionArn }}"
    desired_count: 2
    min_count: 2
    max_count: 4
    subnets: "{{ network_outputs.private_subnet_ids }}"
    security_groups: ["{{ network_outputs.security_group_ids.ecs }}"]
    load_balancers:
      - {targetGroupArn: "{{ tg.target_group_arn }}", containerName: ehrbase, containerPort: 8080}

- name: Failover drill - take the region out
  medzen.ehrbase.ecs_fargate_service:
    cluster: medzen-prod-euw1-cluster
    name: medzen-prod-euw1-ehrbase
    task_definition: "{{ current_task_definition }}"
    desired_count: 0
    desired_count_mode: exact
    subnets: "{{ network_outputs.private_subnet_ids }}"
    security_groups: ["{{ network_outputs.security_group_ids.ecs }}"]

- name: Teardown - the service, its scaling policies and scalable target
  medzen.ehrbase.ecs_fargate_service:
    cluster: medzen-prod-euw1-cluster
    name: medzen-prod-euw1-ehrbase
    state: absent
"""

RETURN = r"""
service:
  description: The service as described by ECS.
  returned: always
  type: dict
updated:
  description: The service fields that were (or in check mode would be) changed; with O(state=absent) what was
    (or would be) removed - C(scaling_policy:<name>), C(scalable_target), C(service).
  returned: always
  type: list
  elements: str
"""

import uuid

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.ecs import ecs_tags, ensure_tags, subset_equal
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def describe(client, cluster, name):
    found = client.describe_services(aws_retry=True, cluster=cluster, services=[name], include=["TAGS"]).get("services", [])
    found = [s for s in found if s.get("status") != "INACTIVE"]
    return found[0] if found else None


def desired(p):
    return dict(
        taskDefinition=p["task_definition"],
        deploymentConfiguration=dict(
            minimumHealthyPercent=p["minimum_healthy_percent"], maximumPercent=p["maximum_percent"],
            deploymentCircuitBreaker=dict(enable=p["circuit_breaker"], rollback=p["circuit_breaker"])),
        networkConfiguration=dict(awsvpcConfiguration=dict(
            subnets=sorted(p["subnets"]), securityGroups=sorted(p["security_groups"]),
            assignPublicIp="ENABLED" if p["assign_public_ip"] else "DISABLED")),
        healthCheckGracePeriodSeconds=p["health_check_grace_period"] if p["load_balancers"] else None,
        loadBalancers=p["load_balancers"],
        enableExecuteCommand=p["enable_execute_command"],
    )


def target_count(p, current):
    if p["desired_count_mode"] == "exact":
        return p["desired_count"]
    low = p["min_count"] if p["min_count"] is not None else current
    high = p["max_count"] if p["max_count"] is not None else current
    return min(max(current, low), high)


def differences(want, service):
    have = dict(service)
    net = have.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    have["networkConfiguration"] = {"awsvpcConfiguration": dict(
        net, subnets=sorted(net.get("subnets", [])), securityGroups=sorted(net.get("securityGroups", [])))}
    have["enableExecuteCommand"] = bool(have.get("enableExecuteCommand"))  # AWS leaves it out of some answers: off
    changed = []
    for key, value in want.items():
        if value is None:
            continue
        if key == "loadBalancers":
            if not subset_equal(sorted(value, key=str), sorted(have.get(key) or [], key=str)):
                changed.append(key)
        elif not subset_equal(value, have.get(key)):
            changed.append(key)
    return changed


def ensure_present(client, module):
    p = module.params
    want = desired(p)
    service = describe(client, p["cluster"], p["name"])
    if service is None:
        if module.check_mode:
            return True, ["created"], dict(want, serviceName=p["name"], desiredCount=p["desired_count"])
        req = {k: v for k, v in want.items() if v is not None}
        # One token per invocation: a create the SDK retries after a lost answer returns the first service instead
        # of failing "Creation of service was not idempotent" (across runs, describe() above finds it).
        created = client.create_service(
            aws_retry=True, clientToken=uuid.uuid4().hex, cluster=p["cluster"], serviceName=p["name"],
            desiredCount=p["desired_count"], launchType="FARGATE",
            platformVersion=p["platform_version"], propagateTags="SERVICE", enableECSManagedTags=True,
            tags=ecs_tags(p["tags"]), **req)["service"]
        return True, ["created"], created
    update = {k: want[k] for k in differences(want, service)}
    count = target_count(p, service["desiredCount"])
    if count != service["desiredCount"]:
        update["desiredCount"] = count
    changed = bool(update)
    if update and not module.check_mode:
        service = client.update_service(aws_retry=True, cluster=p["cluster"], service=p["name"], **update)["service"]
    changed |= ensure_tags(client, service["serviceArn"], p["tags"], module.check_mode)
    return changed, sorted(update), service


def ensure_absent(client, autoscaling, module):
    p = module.params
    resource = "service/%s/%s" % (p["cluster"], p["name"])
    scope = dict(ServiceNamespace="ecs", ResourceId=resource, ScalableDimension="ecs:service:DesiredCount")
    policies = autoscaling.describe_scaling_policies(aws_retry=True, **scope).get("ScalingPolicies", [])
    targets = autoscaling.describe_scalable_targets(
        aws_retry=True, ServiceNamespace="ecs", ResourceIds=[resource], ScalableDimension="ecs:service:DesiredCount",
    ).get("ScalableTargets", [])
    service = describe(client, p["cluster"], p["name"]) if cluster_exists(client, p["cluster"]) else None
    removed = ["scaling_policy:%s" % pol["PolicyName"] for pol in policies]
    removed += ["scalable_target"] if targets else []
    removed += ["service"] if service else []
    if module.check_mode or not removed:
        return bool(removed), removed, service or {}
    for pol in policies:
        autoscaling.delete_scaling_policy(aws_retry=True, PolicyName=pol["PolicyName"], **scope)
    if targets:
        autoscaling.deregister_scalable_target(aws_retry=True, **scope)
    if service:
        service = client.delete_service(aws_retry=True, cluster=p["cluster"], service=p["name"], force=True)["service"]
    return True, removed, service or {}


def cluster_exists(client, cluster):
    found = client.describe_clusters(aws_retry=True, clusters=[cluster]).get("clusters", [])
    return any(c.get("status") == "ACTIVE" for c in found)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            task_definition=dict(type="str"),
            desired_count=dict(type="int"),
            desired_count_mode=dict(type="str", choices=["initial", "exact"], default="initial"),
            min_count=dict(type="int"),
            max_count=dict(type="int"),
            subnets=dict(type="list", elements="str"),
            security_groups=dict(type="list", elements="str"),
            assign_public_ip=dict(type="bool", default=False),
            load_balancers=dict(type="list", elements="dict", default=[]),
            health_check_grace_period=dict(type="int", default=180),
            minimum_healthy_percent=dict(type="int", default=100),
            maximum_percent=dict(type="int", default=200),
            circuit_breaker=dict(type="bool", default=True),
            enable_execute_command=dict(type="bool", default=False),
            platform_version=dict(type="str", default="LATEST"),
            tags=dict(type="dict"),
        ),
        required_if=[("state", "present", ("task_definition", "desired_count", "subnets", "security_groups"))],
        supports_check_mode=True,
    )
    client = module.client("ecs", retry_decorator=RETRY)
    try:
        if module.params["state"] == "absent":
            autoscaling = module.client("application-autoscaling", retry_decorator=RETRY)
            changed, updated, service = ensure_absent(client, autoscaling, module)
        else:
            changed, updated, service = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not converge ECS service %s" % module.params["name"])
    module.exit_json(changed=changed, updated=updated, service=service)


if __name__ == "__main__":
    main()
