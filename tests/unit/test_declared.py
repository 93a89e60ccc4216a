"""What the collection holds exclusively (plugins/module_utils/declared.py): the findings a difference makes."""

import json

import pytest

from ansible_collections.medzen.ehrbase.plugins.filter.converged import FilterModule
from ansible_collections.medzen.ehrbase.plugins.module_utils.declared import (
    ECS_EXECUTION_MANAGED_POLICY,
    declared,
    key_policy_findings,
    role_findings,
)

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = "arn:aws:iam::123456789012:root"


def policy(*principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": p, "Action": "kms:*", "Resource": "*"} for p in principals]})


def test_the_declared_roles_have_no_finding():
    assert role_findings("execution_role", "x-ecs-execution", [ECS_EXECUTION_MANAGED_POLICY], ["read-ehrbase-secrets"]) == []
    assert role_findings("task_role", "x-ecs-task", [], []) == []


def test_an_extra_managed_or_inline_policy_is_named_with_its_fix():
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    found = role_findings("task_role", "x-ecs-task", [admin], ["break-glass"])
    assert found == [
        "IAM role x-ecs-task: managed policies nobody declared: %s. Fix: a normal site.yml run removes it (the ecs role)"
        % admin,
        "IAM role x-ecs-task: inline policies nobody declared: break-glass. Fix: a normal site.yml run removes it "
        "(the ecs role)"]
    # A missing declared policy is the role's to add back (iam_role), not a finding of something extra.
    assert role_findings("execution_role", "x-ecs-execution", [], []) == []


@pytest.mark.parametrize("principal", [{"AWS": ROOT}, {"AWS": [ROOT]}, {"AWS": "123456789012"}])
def test_the_accounts_own_root_is_the_only_principal_a_key_policy_may_name(principal):
    assert key_policy_findings("alias/x-ehrbase", KEY, policy(principal)) == []


@pytest.mark.parametrize("principal", [{"AWS": "*"}, "*", {"AWS": "arn:aws:iam::999999999999:root"},
                                       {"Service": "logs.amazonaws.com"}])
def test_any_other_principal_is_a_finding(principal):
    found = key_policy_findings("alias/x-ehrbase", KEY, policy({"AWS": ROOT}, principal))
    assert len(found) == 1 and found[0].startswith("KMS key alias/x-ehrbase: its policy lets in principals beyond "
                                                   "account 123456789012: ")
    assert json.dumps(principal, sort_keys=True) in found[0]


def test_the_filter_hands_the_roles_a_copy_of_one_section():
    section = FilterModule().filters()["declared"]("execution_role")
    assert section == {"managed": [ECS_EXECUTION_MANAGED_POLICY], "inline": ["read-ehrbase-secrets"]}
    section["inline"].append("changed by a caller")
    assert declared("execution_role")["inline"] == ["read-ehrbase-secrets"]
    assert FilterModule().filters()["declared"]("ecs_exec") is False
    with pytest.raises(KeyError):
        declared("no_such_section")
