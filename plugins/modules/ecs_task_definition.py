#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ecs_task_definition
short_description: Register an ECS task definition revision only when it differs from the latest one
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Compares the requested task definition with the latest ACTIVE revision of its family (ignoring the defaults ECS
    adds and the order of environment, secrets and port mappings) and registers a new revision only when something
    differs.
  - Why a custom module - M(community.aws.ecs_taskdefinition) has a history of registering a new revision on every
    run when containers use C(secrets), and cannot tag task definitions.
  - Never deregisters revisions with O(state=present) (a running service may use them); O(state=absent) (teardown)
    deregisters every active revision of the family.
options:
  family:
    description: Task definition family.
    type: str
    required: true
  container_definitions:
    description:
      - Container definitions, in the ECS API's camelCase shape (C(secrets) with C(valueFrom) ARNs).
      - Required with O(state=present).
    type: list
    elements: dict
  cpu:
    description: Task CPU units (1024 = 1 vCPU). Required with O(state=present).
    type: str
  memory:
    description: Task memory in MiB. Required with O(state=present).
    type: str
  execution_role_arn:
    description: Role ECS uses to pull the image, write logs and read the secrets. Required with O(state=present).
    type: str
  task_role_arn:
    description: Role the application runs as.
    type: str
  cpu_architecture:
    description: Fargate CPU architecture.
    type: str
    choices: [X86_64, ARM64]
    default: X86_64
  tags:
    description: Tags for a newly registered revision.
    type: dict
  revisions:
    description:
      - With O(state=absent), deregister only these revisions (ARNs or C(family:revision)) instead of every active one -
        a failed release retires its revision this way, so the next run compares with the revision that works.
      - Deregistered revisions stay describable (INACTIVE); nothing is deleted.
    type: list
    elements: str
  state:
    description: C(absent) deregisters every ACTIVE revision of the family (teardown), or only O(revisions); the other
      options are then ignored.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: EHRbase task definition
  medzen.ehrbase.ecs_task_definition:
    family: medzen-prod-euw1-ehrbase
    cpu: "1024"
    memory: "2048"
    execution_role_arn: "{{ execution_role.arn }}"
    container_definitions:
      - name: ehrbase
        image: ehrbase/ehrbase:2.30.0
        portMappings: [{containerPort: 8080, protocol: tcp}]
        secrets:
          - {name: DB_PASS, valueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf:password::"}
"""

RETURN = r"""
task_definition:
  description: The revision in use (the existing one when nothing changed).
  returned: always
  type: dict
revision:
  description: Revision number (0 in check mode when a new one would be registered).
  returned: always
  type: int
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.ecs import ecs_tags, task_definition_matches
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def latest(client, family):
    arns = client.list_task_definitions(aws_retry=True, familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=1)
    arns = arns.get("taskDefinitionArns", [])
    if not arns:
        return None
    return client.describe_task_definition(aws_retry=True, taskDefinition=arns[0])["taskDefinition"]


def request(p):
    req = dict(
        family=p["family"], containerDefinitions=p["container_definitions"], cpu=str(p["cpu"]),
        memory=str(p["memory"]), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        executionRoleArn=p["execution_role_arn"],
        runtimePlatform={"cpuArchitecture": p["cpu_architecture"], "operatingSystemFamily": "LINUX"},
    )
    if p["task_role_arn"]:
        req["taskRoleArn"] = p["task_role_arn"]
    return req


def ensure_present(client, module):
    req = request(module.params)
    current = latest(client, module.params["family"])
    if task_definition_matches(req, current):
        return False, current
    if module.check_mode:
        return True, dict(req, revision=0)
    if module.params["tags"]:
        req["tags"] = ecs_tags(module.params["tags"])
    return True, client.register_task_definition(aws_retry=True, **req)["taskDefinition"]


def ensure_absent(client, module):
    arns = []
    pages = client.get_paginator("list_task_definitions").paginate(familyPrefix=module.params["family"], status="ACTIVE")
    for page in pages:
        arns.extend(page["taskDefinitionArns"])
    if module.params["revisions"]:
        wanted = set(r.split("/")[-1] for r in module.params["revisions"])
        arns = [a for a in arns if a.split("/")[-1] in wanted]
    if arns and not module.check_mode:
        for arn in arns:
            client.deregister_task_definition(aws_retry=True, taskDefinition=arn)
    return bool(arns), {"deregistered": arns}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            family=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            container_definitions=dict(type="list", elements="dict"),
            cpu=dict(type="str"),
            memory=dict(type="str"),
            execution_role_arn=dict(type="str"),
            task_role_arn=dict(type="str"),
            cpu_architecture=dict(type="str", choices=["X86_64", "ARM64"], default="X86_64"),
            tags=dict(type="dict"),
            revisions=dict(type="list", elements="str"),
        ),
        required_if=[("state", "present", ("container_definitions", "cpu", "memory", "execution_role_arn"))],
        supports_check_mode=True,
    )
    client = module.client("ecs", retry_decorator=RETRY)
    try:
        if module.params["state"] == "absent":
            changed, result = ensure_absent(client, module)
            module.exit_json(changed=changed, task_definition={}, revision=0, **result)
        changed, task_definition = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not register task definition %s" % module.params["family"])
    module.exit_json(changed=changed, task_definition=task_definition, revision=task_definition.get("revision", 0))


if __name__ == "__main__":
    main()
