#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ecs_cluster_insights
short_description: ECS cluster with Container Insights and tags
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates an ECS cluster, or brings an existing one to the given Container Insights setting and tags.
  - Why a custom module - M(community.aws.ecs_cluster) cannot set cluster settings (Container Insights, which the
    running-task alarms need) or tags.
  - Never deletes a cluster (teardown does that explicitly).
options:
  name:
    description: Cluster name.
    type: str
    required: true
  container_insights:
    description: Container Insights setting.
    type: str
    choices: [enabled, disabled, enhanced]
    default: enabled
  tags:
    description: Tags to add or update (others are kept).
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Cluster with Container Insights
  medzen.ehrbase.ecs_cluster_insights:
    name: medzen-prod-euw1-cluster
    container_insights: enabled
    tags: {Project: medzen}
"""

RETURN = r"""
cluster:
  description: The cluster as described by ECS.
  returned: always
  type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.ecs import ecs_tags, ensure_tags
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def describe(client, name):
    found = client.describe_clusters(aws_retry=True, clusters=[name], include=["SETTINGS", "TAGS"])["clusters"]
    found = [c for c in found if c["status"] != "INACTIVE"]
    return found[0] if found else None


def ensure_present(client, module):
    p = module.params
    cluster = describe(client, p["name"])
    settings = [{"name": "containerInsights", "value": p["container_insights"]}]
    if cluster is None:
        if module.check_mode:
            return True, {"clusterName": p["name"], "settings": settings}
        client.create_cluster(aws_retry=True, clusterName=p["name"], settings=settings, tags=ecs_tags(p["tags"]))
        return True, describe(client, p["name"])
    changed = False
    current = {s["name"]: s["value"] for s in cluster.get("settings", [])}
    if current.get("containerInsights") != p["container_insights"]:
        changed = True
        if not module.check_mode:
            client.update_cluster_settings(aws_retry=True, cluster=p["name"], settings=settings)
    changed |= ensure_tags(client, cluster["clusterArn"], p["tags"], module.check_mode)
    return changed, describe(client, p["name"]) if changed and not module.check_mode else cluster


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            container_insights=dict(type="str", choices=["enabled", "disabled", "enhanced"], default="enabled"),
            tags=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    client = module.client("ecs", retry_decorator=RETRY)
    try:
        changed, cluster = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not converge ECS cluster %s" % module.params["name"])
    module.exit_json(changed=changed, cluster=cluster)


if __name__ == "__main__":
    main()
