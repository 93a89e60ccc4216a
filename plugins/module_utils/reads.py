# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Soft, retried reads for the read-only report modules (diagnose, maintenance, cost).

A report must say what it could not read instead of failing: a missing permission or an API an endpoint does not
offer becomes an entry in `Reader.errors`, and the rest of the report still comes out. Every client retries
throttling and 5xx answers with jittered back-off long enough for real AWS throttling; each call passes
aws_retry=True, without which amazon.aws's decorator does not retry at all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    import boto3
    import botocore.config
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def plain(value):
    """API answers -> JSON-safe values (datetimes as ISO 8601, no ResponseMetadata)."""
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items() if k != "ResponseMetadata")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


class Reader(object):
    """One retrying client per (service, region); a failed read is recorded under its name and returns None.

    The clients come from one boto3 session, unlike module.client() (amazon.aws's boto3_conn makes a session per
    client): a session loads each service's model once, which makes the fifteen clients of a whole-region read about
    three times cheaper. Connection settings (profile, credentials, endpoint, botocore config) are amazon.aws's own,
    from get_aws_connection_info. Not thread-safe: make the clients before reading side by side.
    """

    def __init__(self, module):
        self.module = module
        self.errors = {}
        self.clients = {}
        self.session = None

    def client(self, service, region=None):
        key = (service, region)
        if key not in self.clients:
            default_region, endpoint, params = get_aws_connection_info(self.module)
            params = dict(params)
            config = botocore.config.Config()
            for name in ("config", "aws_config"):
                extra = params.pop(name, None)
                if extra:
                    config = config.merge(extra if isinstance(extra, botocore.config.Config) else botocore.config.Config(**extra))
            profile = params.pop("profile_name", None)
            if self.session is None:
                self.session = boto3.session.Session(profile_name=profile)
            conn = self.session.client(service, config=config, region_name=region or default_region, endpoint_url=endpoint,
                                       **params)
            self.clients[key] = RetryingBotoClientWrapper(conn, RETRY)
        return self.clients[key]

    def read(self, name, call):
        try:
            return call()
        except AWS_ERRORS as e:  # recorded, and the report reads on
            self.errors[name] = str(e)
            return None
