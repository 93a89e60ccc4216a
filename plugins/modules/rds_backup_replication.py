#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_backup_replication
short_description: Copy an RDS instance's automated backups to another region (automated-backup replication)
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Runs in the B(destination) region (the module's O(region)) and starts or stops the replication of a source DB
    instance's automated backups (snapshots and transaction logs) into it, encrypted with a key of that region.
  - Why a custom module - amazon.aws and community.aws have no module for
    C(StartDBInstanceAutomatedBackupsReplication).
  - The retention period and key of a running replication cannot be changed in place (AWS has no such call); a
    difference is reported as a warning, never fixed by stopping the copies.
  - O(state=absent) stops the replication. The copies already made are kept until their retention period ends
    (AWS marks them C(retained)); delete them with C(aws rds delete-db-instance-automated-backup) if you must.
options:
  source_db_instance_arn:
    description: ARN of the source DB instance (in another region).
    type: str
    required: true
  backup_retention_period:
    description: Days the copies are kept in the destination region.
    type: int
    default: 7
  kms_key_id:
    description: ARN of a KMS key in the destination region that encrypts the copies (required by AWS for an
      encrypted source).
    type: str
  state:
    description: Replication on (V(present)) or stopped (V(absent)).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Copies of eu-west-1's database in eu-central-1
  medzen.ehrbase.rds_backup_replication:
    region: eu-central-1
    source_db_instance_arn: arn:aws:rds:eu-west-1:123456789012:db:medzen-prod-euw1-db
    backup_retention_period: 7
    kms_key_id: arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
"""

RETURN = r"""
replication:
  description: The replicated automated backup in the destination region (empty when there is none).
  returned: always
  type: dict
  contains:
    db_instance_automated_backups_arn:
      description: ARN to restore from.
      type: str
    status:
      description: C(replicating), or C(retained) after the replication stopped.
      type: str
    restore_window:
      description: C(earliest_time) and C(latest_time) (the recovery point) of the copies.
      type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.backup_copies import (
    active_copy,
    list_copies,
    snake,
    source_region,
)
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def differences(copy, params):
    wanted = {"BackupRetentionPeriod": params["backup_retention_period"], "KmsKeyId": params["kms_key_id"]}
    return ["%s is %s, wanted %s" % (k, copy.get(k), v) for k, v in wanted.items() if v and copy.get(k) != v]


def ensure_present(client, module):
    p = module.params
    running = active_copy(list_copies(client, p["source_db_instance_arn"]))
    if running:
        for diff in differences(running, p):
            module.warn("The replication of %s runs with %s: AWS cannot change it in place. To change it, stop it "
                        "(state=absent; the copies are kept) and start it again." % (p["source_db_instance_arn"], diff))
        return False, running
    if module.check_mode:
        return True, {"DBInstanceArn": p["source_db_instance_arn"], "Status": "replicating"}
    args = dict(SourceDBInstanceArn=p["source_db_instance_arn"], BackupRetentionPeriod=p["backup_retention_period"],
                SourceRegion=source_region(p["source_db_instance_arn"]))
    if p["kms_key_id"]:
        args["KmsKeyId"] = p["kms_key_id"]
    try:
        return True, client.start_db_instance_automated_backups_replication(aws_retry=True, **args)[
            "DBInstanceAutomatedBackup"]
    except is_boto3_error_code("InvalidDBInstanceState"):
        # A start whose answer was lost is sent again by botocore and refused as "already on": the first one worked.
        # Adopt the replication it started; anything else that state error means is still an error.
        running = active_copy(list_copies(client, p["source_db_instance_arn"]))
        if not running:
            raise
        return True, running


def ensure_absent(client, module):
    running = active_copy(list_copies(client, module.params["source_db_instance_arn"]))
    if not running:
        return False, {}
    if module.check_mode:
        return True, dict(running, Status="retained")
    return True, client.stop_db_instance_automated_backups_replication(
        aws_retry=True, SourceDBInstanceArn=module.params["source_db_instance_arn"])["DBInstanceAutomatedBackup"]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            source_db_instance_arn=dict(type="str", required=True),
            backup_retention_period=dict(type="int", default=7),
            kms_key_id=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    client = module.client("rds", retry_decorator=RETRY)
    ensure = ensure_present if module.params["state"] == "present" else ensure_absent
    try:
        source_region(module.params["source_db_instance_arn"])
        changed, copy = ensure(client, module)
    except ValueError as e:
        module.fail_json(msg="source_db_instance_arn: %s" % e)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not set the backup replication of %s into %s"
                             % (module.params["source_db_instance_arn"], module.region))
    module.exit_json(changed=changed, replication=snake(copy))


if __name__ == "__main__":
    main()
