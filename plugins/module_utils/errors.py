# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The one error type the collection's AWS modules catch, once, in main().

botocore raises ClientError for an answer AWS gave (denied, throttled after the retries, invalid) and
BotoCoreError for everything below it (no credentials, endpoint unreachable, a waiter that gave up). Anything
else is a bug and should surface as one, not as "Could not converge ...".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import BotoCoreError, ClientError

    AWS_ERRORS = (BotoCoreError, ClientError)
except ImportError:  # AnsibleAWSModule reports the missing botocore itself
    AWS_ERRORS = ()
