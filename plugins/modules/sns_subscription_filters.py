#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sns_subscription_filters
short_description: Keep the subscriptions of an SNS topic free of filter policies nobody declared
version_added: "0.2.0"
author: MedZen Health platform team (@medzen)
description:
  - Reads the filter policy of every confirmed subscription of a topic and removes the ones that differ from the
    declared filter (by default none, so every message reaches every subscriber). A filter policy set by hand on an
    alarm e-mail subscription can drop every alarm silently.
  - A filter is removed by setting it to the empty JSON object, as the SNS documentation's SetSubscriptionAttributes
    example does; a subscription with C({}) has no filter.
  - Why a custom module - M(community.aws.sns_topic) manages a subscription's protocol and endpoint (and
    C(RawMessageDelivery)) but never reads or sets C(FilterPolicy); no upstream module does.
  - Pending subscriptions (not confirmed yet) have no ARN to ask with and are left alone.
options:
  topic_arn:
    description: ARN of the topic.
    type: str
    required: true
  filter_policy:
    description: The declared filter policy of every subscription; omitted, none.
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Every alarm reaches every address
  medzen.ehrbase.sns_subscription_filters:
    topic_arn: arn:aws:sns:eu-west-1:123456789012:medzen-prod-euw1-alarms
"""

RETURN = r"""
subscriptions:
  description: Each confirmed subscription's endpoint with its filter policy before and after the run (None for none).
  returned: always
  type: list
  elements: dict
  sample: [{"endpoint": "ops@example.org", "before": {"severity": ["none"]}, "after": null}]
changed_endpoints:
  description: The endpoints whose filter policy was set back to the declared one.
  returned: always
  type: list
  elements: str
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.declared import filter_policy
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def subscriptions(client, topic_arn):
    found, kwargs = [], {}
    while True:
        answer = client.list_subscriptions_by_topic(aws_retry=True, TopicArn=topic_arn, **kwargs)
        found.extend(s for s in answer.get("Subscriptions", []) if s["SubscriptionArn"].startswith("arn:"))
        if not answer.get("NextToken"):
            return found
        kwargs = {"NextToken": answer["NextToken"]}


def ensure_present(client, module):
    """(changed endpoints, [{endpoint, before, after}])"""
    wanted = module.params["filter_policy"] or None
    changed, states = [], []
    for sub in subscriptions(client, module.params["topic_arn"]):
        before = filter_policy(client.get_subscription_attributes(
            aws_retry=True, SubscriptionArn=sub["SubscriptionArn"])["Attributes"])
        if before != wanted:
            changed.append(sub["Endpoint"])
            if not module.check_mode:
                client.set_subscription_attributes(aws_retry=True, SubscriptionArn=sub["SubscriptionArn"],
                                                   AttributeName="FilterPolicy",
                                                   AttributeValue=json.dumps(wanted or {}, sort_keys=True))
        states.append({"endpoint": sub["Endpoint"], "before": before,
                       "after": wanted if sub["Endpoint"] in changed else before})
    return changed, states


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            topic_arn=dict(type="str", required=True),
            filter_policy=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    try:
        changed, states = ensure_present(module.client("sns", retry_decorator=RETRY), module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not set the filter policies of the subscriptions of %s"
                             % module.params["topic_arn"])
    module.exit_json(changed=bool(changed), subscriptions=states, changed_endpoints=changed, diff={
        "before": dict((s["endpoint"], s["before"]) for s in states if s["endpoint"] in changed),
        "after": dict((s["endpoint"], s["after"]) for s in states if s["endpoint"] in changed)})


if __name__ == "__main__":
    main()
