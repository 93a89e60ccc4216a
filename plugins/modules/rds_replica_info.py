#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_replica_info
short_description: Is an RDS instance a read replica, is it replicating, and how far behind its source is it
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Read-only. C(DescribeDBInstances) of one instance in the module's O(region) (its source, its status and its
    C(StatusInfos) of type read replication) and CloudWatch's C(ReplicaLag) of the last O(lag_minutes) minutes
    (the newest datapoint and the highest). Reads only this region's API, so it works while the source region is down.
  - C(ReplicaLag) is the time since the last transaction the replica replayed (AWS computes it as current time minus
    the last committed transaction's time). With the source lost it is the upper bound of the writes a promotion
    would lose; with a source that writes nothing it grows up to 5 minutes without any loss.
  - Why a custom module - no amazon.aws or community.aws module reads CloudWatch metric statistics, and
    M(amazon.aws.rds_instance_info) does not say whether replication runs.
options:
  db_instance_identifier:
    description: The instance (the warm standby's replica).
    type: str
    required: true
  lag_minutes:
    description: Minutes of C(ReplicaLag) to read.
    type: int
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: How far eu-central-1's standby is behind eu-west-1
  medzen.ehrbase.rds_replica_info:
    region: eu-central-1
    db_instance_identifier: medzen-prod-euc1-db
  register: standby
"""

RETURN = r"""
exists:
  description: Whether the instance exists.
  returned: always
  type: bool
replica:
  description: Whether it is a read replica now (false once promoted).
  returned: always
  type: bool
source:
  description: The source instance's ARN or identifier (empty when not a replica).
  returned: always
  type: str
status:
  description: The instance's status (available, modifying, ...).
  returned: always
  type: str
replicating:
  description: Whether its read replication is in a normal state (StatusInfos).
  returned: always
  type: bool
replication_message:
  description: AWS's message for a replication that is not normal.
  returned: always
  type: str
lag_seconds:
  description: The newest C(ReplicaLag) datapoint in seconds (null when CloudWatch has none).
  returned: always
  type: float
max_lag_seconds:
  description: The highest C(ReplicaLag) of the period (null when CloudWatch has none).
  returned: always
  type: float
lag_at:
  description: Time of the newest datapoint (ISO 8601).
  returned: always
  type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS
from ansible_collections.medzen.ehrbase.plugins.module_utils.replica import replica_lag, replication_state


def describe(rds, identifier):
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier, aws_retry=True)["DBInstances"]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None
    return found[0] if found else None


def gather(module):
    identifier = module.params["db_instance_identifier"]
    db = describe(module.client("rds", retry_decorator=RETRY), identifier)
    facts = dict(exists=db is not None, replica=False, source="", status="", replicating=False,
                 replication_message="", lag_seconds=None, max_lag_seconds=None, lag_at="")
    if db is None:
        return facts
    facts.update(replication_state(db))
    if facts["replica"]:
        newest, highest, when = replica_lag(module.client("cloudwatch", retry_decorator=RETRY), identifier,
                                            module.params["lag_minutes"], aws_retry=True)
        facts.update(lag_seconds=newest, max_lag_seconds=highest, lag_at=when)
    return facts


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            db_instance_identifier=dict(type="str", required=True),
            lag_minutes=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    try:
        facts = gather(module)
    except AWS_ERRORS as e:
        where = (module.params["db_instance_identifier"], module.region)
        module.fail_json_aws(e, msg="Could not read the replica %s in %s" % where)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
