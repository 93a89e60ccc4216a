# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""What the collection holds exclusively on the resources it creates, and how to tell when AWS says otherwise.

These are the attributes that decide security, availability or data safety and that AWS lets anyone add to: a
managed or inline policy on a role, a statement in a key policy, a resource policy on a secret, a secret moved to
another key, a scheduled action on the service's scalable target, ECS Exec, a filter on an alarm subscription, the
VPC's DNS attributes. The roles declare them from here (the `medzen.ehrbase.declared` filter) and enforce them; the
converged-state reader (converged.py) checks every region against them and reports each difference as a *finding*.
A run that ends with a finding never seals the region (and fails, naming it): a finding is drift the roles could not
or would not repair, and a seal over it would make every later run say "in sync" (issue 26).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

ECS_EXECUTION_MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

DECLARED = {
    # The managed and inline policies of the ECS roles: exactly these (iam_role purges managed policies, the ecs
    # role's tasks/iam.yml removes undeclared inline ones).
    "execution_role": {"managed": [ECS_EXECUTION_MANAGED_POLICY], "inline": ["read-ehrbase-secrets"]},
    "task_role": {"managed": [], "inline": []},
    # The VPC attributes ec2_vpc_net sets (describe_vpcs does not return them).
    "vpc_attributes": {"enableDnsSupport": True, "enableDnsHostnames": True},
    # The task range is the plan's (ecs_min_count..ecs_max_count): no scheduled action may change it.
    "scheduled_actions": [],
    # EHRbase needs no shell in its containers.
    "ecs_exec": False,
    # The region's secrets: encrypted with the region key, no resource policy (the execution role's IAM policy is
    # what lets ECS read them).
    "secret_resource_policy": None,
    # Alarm e-mails: every alarm reaches every address (a filter policy could drop them all).
    "subscription_filter_policy": None,
}

# What an operator does about each kind of finding: the roles repair the first ones, the others by hand.
FIX = {
    "iam": "a normal site.yml run removes it (the ecs role)",
    "kms": "a normal site.yml run puts the declared key policy back (the rds role)",
    "vpc": "a normal site.yml run sets it back (the network role)",
    "schedule": "a normal site.yml run deletes it (the ecs role's ecs_scalable_target)",
    "ecs_exec": "a normal site.yml run turns it off (the ecs role); tasks started while it was on keep it until replaced",
    "secret_key": "a normal site.yml run moves it back to the region key, its value untouched (the rds role)",
    "secret_policy": "aws secretsmanager delete-resource-policy, or a normal site.yml run",
    "backup": "a normal site.yml run starts the replication again (the rds role); the copies made so far are kept",
    "duplicate": "ansible-playbook playbooks/repair.yml lists the twin that holds nothing; -e repair_confirm=yes removes it",
    "subscription": "a normal site.yml run removes the filter (the monitoring role)",
}


def filter_policy(attributes):
    """A subscription's filter policy as a document; None for none (absent, empty, or the empty object SNS's own
    example sets to remove one)."""
    text = (attributes.get("FilterPolicy") or "").strip()
    return (json.loads(text) or None) if text else None


def declared(section=None):
    """The declaration (or one section of it), a copy the caller may change."""
    return copy.deepcopy(DECLARED if section is None else DECLARED[section])


def finding(kind, what, detail):
    return "%s: %s. Fix: %s" % (what, detail, FIX[kind])


def role_findings(role_key, role_name, attached, inline):
    """The policies on an ECS role beyond (or missing from) the declaration."""
    want = DECLARED[role_key]
    lines = []
    extra = sorted(set(attached) - set(want["managed"]))
    if extra:
        lines.append(finding("iam", "IAM role %s" % role_name, "managed policies nobody declared: %s" % ", ".join(extra)))
    extra = sorted(set(inline) - set(want["inline"]))
    if extra:
        lines.append(finding("iam", "IAM role %s" % role_name, "inline policies nobody declared: %s" % ", ".join(extra)))
    return lines


def key_policy_findings(alias, key_arn, policy_text):
    """Statements of a region key's policy that let in anyone but the key's own account (through its IAM)."""
    partition, account = key_arn.split(":")[1], key_arn.split(":")[4]
    root = "arn:%s:iam::%s:root" % (partition, account)
    statements = json.loads(policy_text).get("Statement", [])
    others = sorted(set(json.dumps(s.get("Principal"), sort_keys=True) for s in statements
                        if s.get("Principal") not in ({"AWS": root}, {"AWS": [root]}, {"AWS": account})))
    if not others:
        return []
    return [finding("kms", "KMS key %s" % alias, "its policy lets in principals beyond account %s: %s"
                    % (account, ", ".join(others)))]
