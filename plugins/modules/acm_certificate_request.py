#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: acm_certificate_request
short_description: Request a DNS-validated ACM certificate, idempotent by domain name
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Finds a certificate for O(domain_name) with the same alternative names that is issued or pending validation,
    or requests a new DNS-validated one. Returns its ARN, status and the DNS records that validate it.
  - Why a custom module - M(community.aws.acm_certificate) only imports certificates; no upstream module requests
    an Amazon-issued certificate.
  - Does not wait for validation (that needs the DNS records in place); poll C(status) with
    M(community.aws.acm_certificate_info).
  - Never deletes a certificate (a load balancer may use it).
options:
  domain_name:
    description: Primary name of the certificate.
    type: str
    required: true
  subject_alternative_names:
    description: Additional names.
    type: list
    elements: str
    default: []
  tags:
    description: Tags for a newly requested certificate, and added to an existing one.
    type: dict
  validation_record_timeout:
    description: Seconds to wait for ACM to publish the validation records after a request.
    type: int
    default: 60
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Certificate for the regional and global names
  medzen.ehrbase.acm_certificate_request:
    domain_name: ehr.medzenhealth.app
    subject_alternative_names: [eu-west-1.ehr.medzenhealth.app, eu.ehr.medzenhealth.app]
  register: cert
"""

RETURN = r"""
certificate_arn:
  description: ARN of the certificate.
  returned: always
  type: str
status:
  description: ACM status (PENDING_VALIDATION, ISSUED, ...); C(REQUESTED) in check mode for a new one.
  returned: always
  type: str
validation_records:
  description: DNS records to create for validation (C(name), C(type), C(value)); one per distinct record.
  returned: always
  type: list
  elements: dict
"""

import time
import uuid

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS

USABLE = ["ISSUED", "PENDING_VALIDATION"]


def find(client, domain, sans):
    wanted = set([domain] + sans)
    best = None
    paginator = client.get_paginator("list_certificates")
    for page in paginator.paginate(CertificateStatuses=USABLE):
        for summary in page["CertificateSummaryList"]:
            if summary["DomainName"] != domain:
                continue
            cert = client.describe_certificate(aws_retry=True, CertificateArn=summary["CertificateArn"])["Certificate"]
            if cert.get("Type") != "AMAZON_ISSUED" or set(cert.get("SubjectAlternativeNames", [domain])) != wanted:
                continue
            if best is None or (cert["Status"] == "ISSUED" and best["Status"] != "ISSUED"):
                best = cert
    return best


def validation_records(cert):
    records = {}
    for option in cert.get("DomainValidationOptions", []):
        rec = option.get("ResourceRecord")
        if rec:
            records[rec["Name"]] = {"name": rec["Name"], "type": rec["Type"], "value": rec["Value"]}
    return sorted(records.values(), key=lambda r: r["name"])


def wait_for_records(client, arn, timeout):
    deadline = time.monotonic() + timeout
    while True:
        cert = client.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]
        if validation_records(cert) or cert["Status"] == "ISSUED" or time.monotonic() > deadline:
            return cert
        time.sleep(2)


def ensure_present(client, module):
    p = module.params
    cert = find(client, p["domain_name"], p["subject_alternative_names"])
    changed = False
    if cert is None:
        if module.check_mode:
            return True, {"CertificateArn": "", "Status": "REQUESTED"}
        # One token per invocation: it makes the API's own retries of this call safe. A token
        # derived from the name alone would, for an hour, hand back a certificate a teardown
        # just deleted; across runs, find() above is what prevents duplicates.
        req = dict(DomainName=p["domain_name"], ValidationMethod="DNS", IdempotencyToken=uuid.uuid4().hex[:32])
        if p["subject_alternative_names"]:
            req["SubjectAlternativeNames"] = [p["domain_name"]] + p["subject_alternative_names"]
        if p["tags"]:
            req["Tags"] = ansible_dict_to_boto3_tag_list(p["tags"])
        arn = client.request_certificate(aws_retry=True, **req)["CertificateArn"]
        return True, wait_for_records(client, arn, p["validation_record_timeout"])
    if p["tags"]:
        current = boto3_tag_list_to_ansible_dict(client.list_tags_for_certificate(aws_retry=True, CertificateArn=cert["CertificateArn"])["Tags"])
        missing = {k: v for k, v in p["tags"].items() if current.get(k) != v}
        if missing:
            changed = True
            if not module.check_mode:
                client.add_tags_to_certificate(aws_retry=True, CertificateArn=cert["CertificateArn"],
                                               Tags=ansible_dict_to_boto3_tag_list(missing))
    return changed, cert


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            domain_name=dict(type="str", required=True),
            subject_alternative_names=dict(type="list", elements="str", default=[]),
            tags=dict(type="dict"),
            validation_record_timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    client = module.client("acm", retry_decorator=RETRY)
    try:
        changed, cert = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not request an ACM certificate for %s" % module.params["domain_name"])
    module.exit_json(changed=changed, certificate_arn=cert["CertificateArn"], status=cert["Status"],
                     validation_records=validation_records(cert))


if __name__ == "__main__":
    main()
