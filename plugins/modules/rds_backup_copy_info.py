#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_backup_copy_info
short_description: The copies of other regions' RDS backups held in this region
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Lists the replicated automated backups in the module's O(region) (the destination), newest recovery point
    first, with their restore window. Reads only this region's API, so it works while the source region is down.
  - Also resolves the ARNs of the source's secret replicas held here (O(secret_names)).
  - Why a custom module - no amazon.aws or community.aws module lists C(DescribeDBInstanceAutomatedBackups), and the
    Secrets Manager lookup returns a secret's value, not its ARN.
options:
  source_db_instance_arn:
    description: Only the copies of this source DB instance.
    type: str
  source_db_instance_identifier:
    description: Only the copies of a source DB instance with this identifier.
    type: str
  secret_names:
    description:
      - Names of the source region's secrets whose replicas (same name) this region should hold; their ARNs here
        are returned in RV(secret_replicas) (an ECS C(secrets) valueFrom with a JSON key needs the full ARN).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Copies of eu-west-1's database kept in eu-central-1
  medzen.ehrbase.rds_backup_copy_info:
    region: eu-central-1
    source_db_instance_identifier: medzen-prod-euw1-db
  register: copies
"""

RETURN = r"""
secret_replicas:
  description: Name -> ARN in this region of each O(secret_names) replica that exists here (missing ones are absent).
  returned: always
  type: dict
copies:
  description: Replicated automated backups, newest recovery point first (snake_case AWS fields).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.backup_copies import list_copies, snake
from ansible_collections.medzen.ehrbase.plugins.module_utils.backup_copies import replica_arns
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            source_db_instance_arn=dict(type="str"),
            source_db_instance_identifier=dict(type="str"),
            secret_names=dict(type="list", elements="str", default=[], no_log=False),
        ),
        supports_check_mode=True,
    )
    client = module.client("rds", retry_decorator=RETRY)
    try:
        copies = list_copies(client, module.params["source_db_instance_arn"],
                             module.params["source_db_instance_identifier"])
        secrets = replica_arns(module.client("secretsmanager", retry_decorator=RETRY),
                               module.params["secret_names"])
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not list the backup copies in %s" % module.region)
    module.exit_json(changed=False, copies=[snake(c) for c in copies], secret_replicas=secrets)


if __name__ == "__main__":
    main()
