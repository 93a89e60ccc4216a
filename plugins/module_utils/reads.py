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
    """One retrying client per (service, region); a failed read is recorded under its name and returns None."""

    def __init__(self, module):
        self.module = module
        self.errors = {}
        self.clients = {}

    def client(self, service, region=None):
        key = (service, region)
        if key not in self.clients:
            kwargs = {"region": region} if region else {}
            self.clients[key] = self.module.client(service, retry_decorator=RETRY, **kwargs)
        return self.clients[key]

    def read(self, name, call):
        try:
            return call()
        except AWS_ERRORS as e:  # recorded, and the report reads on
            self.errors[name] = str(e)
            return None
