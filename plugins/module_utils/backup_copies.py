# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Cross-region RDS backup copies (automated-backup replication), read in the destination region.

Shared by the rds_backup_replication, rds_backup_copy_info and rds_backup_restore modules: amazon.aws has no
module for StartDBInstanceAutomatedBackupsReplication, for listing replicated backups, or for restoring from one
(amazon.aws.rds_instance's creation_source=instance takes a source instance, not SourceDBInstanceAutomatedBackupsArn).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY


def source_region(source_arn):
    """arn:aws:rds:<region>:<account>:db:<identifier> -> region (the presigned URL is signed there)."""
    parts = (source_arn or "").split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] != "db":
        raise ValueError("%r is not an RDS DB instance ARN (arn:aws:rds:<region>:<account>:db:<identifier>)"
                         % source_arn)
    return parts[3]


def list_copies(client, source_arn=None, identifier=None):
    """Replicated automated backups in the client's region, newest restorable point first."""
    found = _describe_all(client).get("DBInstanceAutomatedBackups", [])
    found = [b for b in found if b.get("Region") and b.get("Region") != client.meta.region_name]
    if source_arn:
        found = [b for b in found if b.get("DBInstanceArn") == source_arn]
    if identifier:
        found = [b for b in found if b.get("DBInstanceIdentifier") == identifier]
    found.sort(key=_latest, reverse=True)
    return found


@RETRY
def _describe_all(client):
    return client.get_paginator("describe_db_instance_automated_backups").paginate().build_full_result()


def _latest(copy):
    latest = (copy.get("RestoreWindow") or {}).get("LatestTime")
    return (latest is not None, str(latest or ""))


def active_copy(copies):
    """The replication that runs now (a stopped one stays listed, "retained", until its retention ends)."""
    running = [b for b in copies if b.get("Status") == "replicating"]
    return running[0] if running else None


def snake(copy):
    return camel_dict_to_snake_dict(copy) if copy else {}


def replica_arns(client, names):
    """name -> ARN of each named secret that exists in the client's region (a replica has its primary's name)."""
    found = {}
    for name in names:
        try:
            found[name] = client.describe_secret(aws_retry=True, SecretId=name)["ARN"]
        except client.exceptions.ResourceNotFoundException:
            continue
    return found
