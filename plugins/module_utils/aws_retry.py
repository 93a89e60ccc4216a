# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The one retry policy of the collection's AWS modules.

amazon.aws's AWSRetry retries EC2's RequestLimitExceeded and the query APIs' Throttling, but not the JSON APIs'
ThrottlingException (ECS, KMS, Secrets Manager, ACM, CloudWatch Logs, Application Auto Scaling, Budgets): there a
throttled call failed as soon as botocore's own three attempts were spent. RETRY adds those codes and backs off with
jitter for up to about three minutes in all - long enough for real AWS throttling. A decorated client retries only a
call that passes aws_retry=True; every call in this collection does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

THROTTLED = ["ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
             "TooManyRequestsException", "ServiceUnavailableException", "PriorRequestNotComplete", "SlowDown",
             "EC2ThrottledException", "BandwidthLimitExceeded"]

RETRY = AWSRetry.jittered_backoff(retries=8, delay=2, max_delay=30, catch_extra_error_codes=THROTTLED)
