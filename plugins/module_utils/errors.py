# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The one error type the collection's AWS modules catch, once, in main().

botocore raises ClientError for an answer AWS gave (denied, throttled after the retries, invalid),
BotoCoreError for everything below it (no credentials, endpoint unreachable, a waiter that gave up) and
ResponseParserError for an answer that is not AWS's format at all (a proxy's or an emulator's HTML error page).
Anything else is a bug and should surface as one, not as "Could not converge ...".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    AWS_ERRORS = (BotoCoreError, ClientError, ResponseParserError)
except ImportError:  # AnsibleAWSModule reports the missing botocore itself
    AWS_ERRORS = ()
