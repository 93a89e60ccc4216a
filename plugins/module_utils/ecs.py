# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""ECS helpers shared by the medzen.ehrbase ECS modules.

Why these exist (upstream community.aws modules, checked in 10.x):
* ecs_cluster cannot set cluster settings (Container Insights) or tags;
* ecs_taskdefinition has a history of registering a new revision every run when
  the container has `secrets`, and cannot tag;
* ecs_service resets a desired count that autoscaling changed, does not compare
  deployment or network configuration, and cannot change tags.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

# Lists whose order AWS does not preserve or does not matter; compared as sets by key.
KEYED_LISTS = {"environment": "name", "secrets": "name", "portMappings": "containerPort", "ulimits": "name"}


def ecs_tags(tags):
    """ECS spells its tag lists with lower-case key/value (amazon.aws's helper, sorted for stable requests)."""
    return sorted(ansible_dict_to_boto3_tag_list(tags or {}, "key", "value"), key=lambda t: t["key"])


def subset_equal(desired, current):
    """True when every value we specify equals AWS's, ignoring the defaults AWS adds."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(subset_equal(v, current.get(k)) for k, v in desired.items() if v is not None)
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return False
        return all(subset_equal(d, c) for d, c in zip(desired, current))
    return desired == current


def normalise_container(container):
    """Sort the lists AWS treats as sets so order never causes a new revision."""
    out = dict(container)
    for key, by in KEYED_LISTS.items():
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key], key=lambda item, by=by: str(item.get(by)))
    return out


def task_definition_matches(desired, current):
    """Compare a register_task_definition request with a described revision."""
    if current is None:
        return False
    for key in ("cpu", "memory", "networkMode", "executionRoleArn", "taskRoleArn"):
        if desired.get(key) is not None and str(desired[key]) != str(current.get(key)):
            return False
    if sorted(desired.get("requiresCompatibilities") or []) != sorted(current.get("requiresCompatibilities") or []):
        return False
    if desired.get("runtimePlatform") and not subset_equal(desired["runtimePlatform"], current.get("runtimePlatform")):
        return False
    want = [normalise_container(c) for c in desired["containerDefinitions"]]
    have = [normalise_container(c) for c in current.get("containerDefinitions", [])]
    return subset_equal(sorted(want, key=lambda c: c["name"]), sorted(have, key=lambda c: c["name"]))


def resource_tags(client, arn):
    return boto3_tag_list_to_ansible_dict(client.list_tags_for_resource(aws_retry=True, resourceArn=arn).get("tags") or [],
                                          "key", "value")


def ensure_tags(client, arn, tags, check_mode):
    """Add/update the given tags (never removes others: purge_tags off). Returns changed."""
    if not tags:
        return False
    to_set, _to_remove = compare_aws_tags(resource_tags(client, arn), tags, purge_tags=False)
    if to_set and not check_mode:
        client.tag_resource(aws_retry=True, resourceArn=arn, tags=ecs_tags(to_set))
    return bool(to_set)
