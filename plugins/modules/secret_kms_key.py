#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: secret_kms_key
short_description: Keep existing Secrets Manager secrets encrypted with the declared KMS key, without touching their values
version_added: "0.2.0"
author: MedZen Health platform team (@medzen)
description:
  - Compares the KMS key of each named secret with the declared one and, where it differs (say a secret moved to the
    AWS managed key C(aws/secretsmanager) by hand), calls UpdateSecret with the key alone. Secrets Manager then
    re-encrypts the versions labelled AWSCURRENT, AWSPENDING and AWSPREVIOUS with the declared key and keeps the
    value; the older versions stay readable with the previous key (AWS documentation, "Change the encryption key
    for an AWS Secrets Manager secret").
  - Why a custom module - M(community.aws.secretsmanager_secret) sends a changed C(kms_key_id) only together with the
    secret value, and the collection creates its secrets with C(overwrite=false) so that a password is never
    replaced by a run; with that, a secret moved to another key stays there.
  - Keys are compared by their ARN (an alias, a key id and an ARN of the same key are the same key).
  - A secret that does not exist is left alone (the task that creates secrets makes it, with the key).
  - Never reads or returns a secret's value.
options:
  names:
    description: Names (or ARNs) of the secrets.
    type: list
    elements: str
    required: true
  kms_key_id:
    description: The declared key (ARN, key id or C(alias/...)).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The region's secrets encrypted with the region key
  medzen.ehrbase.secret_kms_key:
    names: [medzen-prod-euw1/ehrbase/db-master, medzen-prod-euw1/ehrbase/db-owner]
    kms_key_id: alias/medzen-prod-euw1-ehrbase
"""

RETURN = r"""
secrets:
  description: Each existing secret with the key it had and the key it has after the run (would have, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "medzen-prod-euw1/ehrbase/db-master", "before": "aws/secretsmanager",
            "after": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]
changed_secrets:
  description: The names of the secrets moved back to the declared key.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS

# What a secret without KmsKeyId is encrypted with.
AWS_MANAGED = "alias/aws/secretsmanager"


def key_arn(kms, key_id, known):
    """The ARN of a key named any way KMS accepts; the name itself when KMS does not know it (a managed key not
    made yet, a key of another account)."""
    if key_id not in known:
        try:
            known[key_id] = kms.describe_key(aws_retry=True, KeyId=key_id)["KeyMetadata"]["Arn"]
        except kms.exceptions.NotFoundException:
            known[key_id] = key_id
    return known[key_id]


def ensure_present(secrets, kms, module):
    """(changed names, [{name, before, after}])"""
    known = {}
    wanted = key_arn(kms, module.params["kms_key_id"], known)
    changed, states = [], []
    for name in module.params["names"]:
        try:
            found = secrets.describe_secret(aws_retry=True, SecretId=name)
        except secrets.exceptions.ResourceNotFoundException:
            continue
        before = found.get("KmsKeyId") or AWS_MANAGED
        if key_arn(kms, before, known) != wanted:
            changed.append(name)
            if not module.check_mode:
                secrets.update_secret(aws_retry=True, SecretId=name, KmsKeyId=wanted)
        states.append({"name": name, "before": before, "after": wanted if name in changed else before})
    return changed, states


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True),
            kms_key_id=dict(type="str", required=True, no_log=False),
        ),
        supports_check_mode=True,
    )
    try:
        changed, states = ensure_present(module.client("secretsmanager", retry_decorator=RETRY),
                                         module.client("kms", retry_decorator=RETRY), module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not set the KMS key of the secrets %s" % ", ".join(module.params["names"]))
    module.exit_json(changed=bool(changed), secrets=states, changed_secrets=changed, diff={
        "before": dict((s["name"], s["before"]) for s in states if s["name"] in changed),
        "after": dict((s["name"], s["after"]) for s in states if s["name"] in changed)})


if __name__ == "__main__":
    main()
