#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: budget
short_description: AWS Budgets cost budget with threshold notifications, idempotent
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates, updates or deletes a cost budget (amount per period, optional cost filters such as a cost-allocation
    tag) and converges its notifications - actual or forecasted spend above a percentage (or absolute amount) of the
    budget, each sent to e-mail addresses and/or SNS topics.
  - Notifications are compared as a set (type, comparison, threshold, threshold type) with their subscribers; a
    notification whose subscribers differ is replaced.
  - The definition is checked before any call (amount > 0, thresholds > 0, at least one subscriber per notification,
    at most 10 e-mail subscribers, e-mail addresses that look like addresses).
  - AWS Budgets is a global service; the client always uses C(us-east-1) (O(region) is ignored).
  - Why a custom module - neither amazon.aws nor community.aws has an AWS Budgets module.
options:
  name:
    description: Budget name (unique in the account).
    type: str
    required: true
  state:
    description: C(present) creates or updates the budget, C(absent) deletes it (and its notifications).
    type: str
    choices: [present, absent]
    default: present
  account_id:
    description: Account that owns the budget; the caller's account (STS) when omitted.
    type: str
  amount:
    description: Budget amount per O(time_unit). Required with O(state=present).
    type: float
  currency:
    description: Currency of O(amount).
    type: str
    default: USD
  time_unit:
    description: Budget period.
    type: str
    choices: [MONTHLY, QUARTERLY, ANNUALLY]
    default: MONTHLY
  cost_filters:
    description:
      - AWS Budgets cost filters, e.g. C({"TagKeyValue" ["user:Project$medzen"]}) for a cost-allocation tag (the
        tag must be activated in the Billing console) or C({"Service" ["Amazon Relational Database Service"]}).
    type: dict
    default: {}
  notifications:
    description: Notifications of the budget (replaces the current set).
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: C(ACTUAL) or C(FORECASTED) spend.
        type: str
        choices: [ACTUAL, FORECASTED]
        required: true
      threshold:
        description: Threshold (percent of the budget with O(notifications[].threshold_type=PERCENTAGE)).
        type: float
        required: true
      comparison:
        description: Comparison with the threshold.
        type: str
        choices: [GREATER_THAN, LESS_THAN, EQUAL_TO]
        default: GREATER_THAN
      threshold_type:
        description: Whether O(notifications[].threshold) is a percentage or an absolute amount.
        type: str
        choices: [PERCENTAGE, ABSOLUTE_VALUE]
        default: PERCENTAGE
      emails:
        description: E-mail subscribers.
        type: list
        elements: str
        default: []
      sns_topic_arns:
        description: SNS topic subscribers (the topic policy must allow budgets.amazonaws.com to publish).
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Monthly budget for the deployment, warned at 80 % and 100 % actual, 100 % forecast
  medzen.ehrbase.budget:
    name: medzen-prod-ehrbase-monthly
    amount: 1500
    cost_filters:
      TagKeyValue: ["user:Project$medzen"]
    notifications:
      - {type: ACTUAL, threshold: 80, emails: [ops@example.org]}
      - {type: ACTUAL, threshold: 100, emails: [ops@example.org]}
      - {type: FORECASTED, threshold: 100, emails: [ops@example.org]}

- name: Remove it
  medzen.ehrbase.budget:
    name: medzen-prod-ehrbase-monthly
    state: absent
"""

RETURN = r"""
budget:
  description: The budget as described by AWS Budgets, keys in snake_case as amazon.aws returns them (empty when
    absent).
  returned: always
  type: dict
notifications:
  description: The notifications with their subscribers, as wanted (present) or removed (absent), keys in
    snake_case.
  returned: always
  type: list
  elements: dict
updated:
  description: What was (or in check mode would be) changed - C(created), C(limit), C(cost_filters), C(time_unit),
    C(notification+ ...), C(notification- ...), C(deleted).
  returned: always
  type: list
  elements: str
"""

import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def definition_errors(p):
    errors = []
    if p["state"] != "present":
        return errors
    if p["amount"] is None or p["amount"] <= 0:
        errors.append("amount=%r must be a positive number (%s per %s)."
                      % (p["amount"], p["currency"], p["time_unit"].lower()))
    for i, n in enumerate(p["notifications"]):
        label = "notifications[%d] (%s %s %s)" % (i, n["type"], n["comparison"], n["threshold"])
        if n["threshold"] <= 0:
            errors.append("%s: threshold must be above 0." % label)
        if not n["emails"] and not n["sns_topic_arns"]:
            errors.append("%s: needs at least one subscriber (emails or sns_topic_arns)." % label)
        if len(n["emails"]) > 10:
            errors.append("%s: AWS allows at most 10 e-mail subscribers per notification." % label)
        errors.extend("%s: %r is not an e-mail address." % (label, e) for e in n["emails"] if not EMAIL.match(e))
        errors.extend("%s: %r is not an SNS topic ARN." % (label, a) for a in n["sns_topic_arns"]
                      if not a.startswith("arn:") or ":sns:" not in a)
    return errors


def wanted_budget(p):
    budget = dict(BudgetName=p["name"], BudgetType="COST", TimeUnit=p["time_unit"],
                  BudgetLimit=dict(Amount=amount_str(p["amount"]), Unit=p["currency"]))
    if p["cost_filters"]:
        budget["CostFilters"] = {k: sorted(v if isinstance(v, list) else [v]) for k, v in p["cost_filters"].items()}
    return budget


def amount_str(value):
    return ("%.2f" % float(value)).rstrip("0").rstrip(".")


def notification_key(details):
    return (details["NotificationType"], details["ComparisonOperator"], float(details["Threshold"]),
            details.get("ThresholdType", "PERCENTAGE"))


def wanted_notifications(p):
    out = {}
    for n in p["notifications"]:
        details = dict(NotificationType=n["type"], ComparisonOperator=n["comparison"], Threshold=float(n["threshold"]),
                       ThresholdType=n["threshold_type"])
        subs = [dict(SubscriptionType="EMAIL", Address=e) for e in n["emails"]]
        subs += [dict(SubscriptionType="SNS", Address=a) for a in n["sns_topic_arns"]]
        out[notification_key(details)] = (details, subs)
    return out


def sub_set(subs):
    return sorted((s["SubscriptionType"], s["Address"]) for s in subs)


class Budgets:
    def __init__(self, client, account_id):
        self.client = client
        self.account = account_id

    def describe(self, name):
        try:
            return self.client.describe_budget(aws_retry=True, AccountId=self.account, BudgetName=name)["Budget"]
        except is_boto3_error_code("NotFoundException"):
            return None

    def notifications(self, name):
        out = {}
        found = self.client.describe_notifications_for_budget(aws_retry=True, AccountId=self.account, BudgetName=name)
        for details in found.get("Notifications", []):
            subs = self.client.describe_subscribers_for_notification(
                aws_retry=True, AccountId=self.account, BudgetName=name, Notification=details).get("Subscribers", [])
            out[notification_key(details)] = (details, subs)
        return out


def budget_changes(want, have):
    changes = []
    if float(have["BudgetLimit"]["Amount"]) != float(want["BudgetLimit"]["Amount"]) or \
            have["BudgetLimit"]["Unit"] != want["BudgetLimit"]["Unit"]:
        changes.append("limit")
    have_filters = {k: sorted(v) for k, v in (have.get("CostFilters") or {}).items()}
    if have_filters != want.get("CostFilters", {}):
        changes.append("cost_filters")
    if have.get("TimeUnit") != want["TimeUnit"]:
        changes.append("time_unit")
    return changes


def label(key):
    return "%s %s %g %s" % key


def sync_notifications(api, module, want_notes):
    """Make the budget's notifications the wanted ones; returns what changed."""
    name = module.params["name"]
    updated = []
    have_notes = api.notifications(name)
    for key in sorted(set(have_notes) - set(want_notes)):
        updated.append("notification- " + label(key))
        if not module.check_mode:
            api.client.delete_notification(aws_retry=True, AccountId=api.account, BudgetName=name, Notification=have_notes[key][0])
    for key in sorted(want_notes):
        if key in have_notes and sub_set(have_notes[key][1]) == sub_set(want_notes[key][1]):
            continue
        updated.append("notification+ " + label(key))
        if module.check_mode:
            continue
        if key in have_notes:  # subscribers differ: replace the notification
            api.client.delete_notification(aws_retry=True, AccountId=api.account, BudgetName=name, Notification=have_notes[key][0])
        api.client.create_notification(aws_retry=True, AccountId=api.account, BudgetName=name, Notification=want_notes[key][0],
                                       Subscribers=want_notes[key][1])
    return updated


def ensure_present(api, module):
    p = module.params
    want = wanted_budget(p)
    want_notes = wanted_notifications(p)
    have = api.describe(p["name"])
    if have is None:
        updated = ["created"] + ["notification+ " + label(k) for k in sorted(want_notes)]
        if not module.check_mode:
            try:
                api.client.create_budget(
                    aws_retry=True, AccountId=api.account, Budget=want,
                    NotificationsWithSubscribers=[dict(Notification=d, Subscribers=s) for d, s in want_notes.values()])
            except is_boto3_error_code("DuplicateRecordException"):
                # CreateBudget takes no idempotency token: a create whose answer was lost, sent again by botocore,
                # meets the budget the first one made. Converge that one (it is this run's own).
                _changed, more, budget, notes = converge(api, module, want, want_notes, api.describe(p["name"]))
                return True, updated + more, budget, notes
        return True, updated, api.describe(p["name"]) if not module.check_mode else want, want_notes
    return converge(api, module, want, want_notes, have)


def converge(api, module, want, want_notes, have):
    """An existing budget brought to the wanted one: (changed, what changed, budget, notifications)."""
    p = module.params
    updated = budget_changes(want, have)
    if updated and not module.check_mode:
        new = dict(have, **want)
        new.pop("CalculatedSpend", None)
        api.client.update_budget(aws_retry=True, AccountId=api.account, NewBudget=new)
    updated.extend(sync_notifications(api, module, want_notes))
    budget = api.describe(p["name"]) if updated and not module.check_mode else have
    return bool(updated), updated, budget, want_notes


def ensure_absent(api, module):
    name = module.params["name"]
    have = api.describe(name)
    if have is None:
        return False, [], {}, {}
    notes = api.notifications(name)
    if not module.check_mode:
        api.client.delete_budget(aws_retry=True, AccountId=api.account, BudgetName=name)
    return True, ["deleted"], {}, notes


def main():
    notification = dict(
        type=dict(type="str", choices=["ACTUAL", "FORECASTED"], required=True),
        threshold=dict(type="float", required=True),
        comparison=dict(type="str", choices=["GREATER_THAN", "LESS_THAN", "EQUAL_TO"], default="GREATER_THAN"),
        threshold_type=dict(type="str", choices=["PERCENTAGE", "ABSOLUTE_VALUE"], default="PERCENTAGE"),
        emails=dict(type="list", elements="str", default=[]),
        sns_topic_arns=dict(type="list", elements="str", default=[]),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            account_id=dict(type="str"),
            amount=dict(type="float"),
            currency=dict(type="str", default="USD"),
            time_unit=dict(type="str", choices=["MONTHLY", "QUARTERLY", "ANNUALLY"], default="MONTHLY"),
            cost_filters=dict(type="dict", default={}),
            notifications=dict(type="list", elements="dict", options=notification, default=[]),
        ),
        required_if=[("state", "present", ("amount",))],
        supports_check_mode=True,
    )
    p = module.params
    errors = definition_errors(p)
    if errors:
        module.fail_json(msg="Budget %s has an invalid definition; nothing was changed. %s" % (p["name"], " ".join(errors)),
                         errors=errors)
    region = "us-east-1"
    try:
        account = p["account_id"] or module.client("sts", region=region).get_caller_identity()["Account"]
        api = Budgets(module.client("budgets", region=region, retry_decorator=RETRY), account)
        if p["state"] == "absent":
            changed, updated, budget, notes = ensure_absent(api, module)
        else:
            changed, updated, budget, notes = ensure_present(api, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not converge budget %s" % p["name"])
    result = dict(changed=changed, updated=updated, budget=camel_dict_to_snake_dict(budget or {}),
                  notifications=[camel_dict_to_snake_dict(dict(Notification=d, Subscribers=s)) for d, s in notes.values()])
    if module._diff and changed:
        result["diff"] = dict(before="".join("- %s\n" % u for u in updated if u.startswith("notification-")),
                              after="".join("+ %s\n" % u for u in updated if not u.startswith("notification-")))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
