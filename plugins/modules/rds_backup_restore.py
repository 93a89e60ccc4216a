#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_backup_restore
short_description: Restore a cross-region backup copy into a new RDS instance
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Creates a new DB instance in the module's O(region) from a replicated automated backup held there (its newest
    restorable point, or O(restore_time)). Uses only this region's API. The instance is encrypted with the key that
    encrypts the copies (AWS takes no other key for this restore).
  - Idempotent - an instance with O(db_instance_identifier) that exists already is returned as it is (never
    restored over). Does not wait; poll M(amazon.aws.rds_instance_info) for C(available). Delete the instance with
    M(amazon.aws.rds_instance) O(amazon.aws.rds_instance#module:state=absent).
  - Why a custom module - M(amazon.aws.rds_instance) restores from a source instance or a snapshot, not from
    C(SourceDBInstanceAutomatedBackupsArn).
options:
  source_db_instance_automated_backups_arn:
    description: ARN of the replicated automated backup (M(medzen.ehrbase.rds_backup_copy_info)).
    type: str
    required: true
  db_instance_identifier:
    description: Identifier of the new instance.
    type: str
    required: true
  restore_time:
    description: UTC time (ISO 8601) to restore to; default the newest restorable point.
    type: str
  db_instance_class:
    description: Instance class.
    type: str
    required: true
  db_subnet_group_name:
    description: Subnet group (private subnets) of the new instance.
    type: str
    required: true
  vpc_security_group_ids:
    description: Security groups of the new instance.
    type: list
    elements: str
    required: true
  multi_az:
    description: Standby in a second availability zone.
    type: bool
    default: false
  deletion_protection:
    description: Deletion protection of the new instance.
    type: bool
    default: false
  db_parameter_group_name:
    description: Parameter group of the new instance.
    type: str
  tags:
    description: Tags of the new instance.
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Restore eu-west-1's newest copy in eu-central-1
  medzen.ehrbase.rds_backup_restore:
    region: eu-central-1
    source_db_instance_automated_backups_arn: "{{ copies.copies[0].db_instance_automated_backups_arn }}"
    db_instance_identifier: medzen-prod-euw1-db-recovered
    db_instance_class: db.t3.medium
    db_subnet_group_name: medzen-prod-euc1-db-subnets
    vpc_security_group_ids: [sg-0123456789abcdef0]
"""

RETURN = r"""
instance:
  description: The new (or existing) DB instance (snake_case AWS fields).
  returned: always
  type: dict
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def existing(client, identifier):
    try:
        return client.describe_db_instances(aws_retry=True, DBInstanceIdentifier=identifier)["DBInstances"][0]
    except client.exceptions.DBInstanceNotFoundFault:
        return None


def restore_args(p):
    args = dict(SourceDBInstanceAutomatedBackupsArn=p["source_db_instance_automated_backups_arn"],
                TargetDBInstanceIdentifier=p["db_instance_identifier"], DBInstanceClass=p["db_instance_class"],
                DBSubnetGroupName=p["db_subnet_group_name"], VpcSecurityGroupIds=p["vpc_security_group_ids"],
                MultiAZ=p["multi_az"], DeletionProtection=p["deletion_protection"], PubliclyAccessible=False,
                CopyTagsToSnapshot=True, Tags=ansible_dict_to_boto3_tag_list(p["tags"] or {}))
    if p["restore_time"]:
        args["RestoreTime"] = p["restore_time"]
    else:
        args["UseLatestRestorableTime"] = True
    if p["db_parameter_group_name"]:
        args["DBParameterGroupName"] = p["db_parameter_group_name"]
    return args


def ensure_present(client, module):
    found = existing(client, module.params["db_instance_identifier"])
    if found:
        return False, found
    if module.check_mode:
        return True, {"DBInstanceIdentifier": module.params["db_instance_identifier"], "DBInstanceStatus": "creating"}
    return True, client.restore_db_instance_to_point_in_time(aws_retry=True, **restore_args(module.params))["DBInstance"]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            source_db_instance_automated_backups_arn=dict(type="str", required=True),
            db_instance_identifier=dict(type="str", required=True),
            restore_time=dict(type="str"),
            db_instance_class=dict(type="str", required=True),
            db_subnet_group_name=dict(type="str", required=True),
            vpc_security_group_ids=dict(type="list", elements="str", required=True),
            multi_az=dict(type="bool", default=False),
            deletion_protection=dict(type="bool", default=False),
            db_parameter_group_name=dict(type="str"),
            tags=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    client = module.client("rds", retry_decorator=RETRY)
    try:
        changed, instance = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not restore %s into %s as %s" % (
            module.params["source_db_instance_automated_backups_arn"], module.region,
            module.params["db_instance_identifier"]))
    module.exit_json(changed=changed, instance=camel_dict_to_snake_dict(instance))


if __name__ == "__main__":
    main()
