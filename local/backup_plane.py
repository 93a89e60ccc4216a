"""EMULATION (local mode only, not AWS) of cross-region backup copies, restores from them, and a lost region.

moto has no StartDBInstanceAutomatedBackupsReplication, keeps no data, and never loses a region. This module makes
it answer as AWS would, from real processes and real data (see backups.py for what a copy and a restored instance
are here):

* StartDBInstanceAutomatedBackupsReplication (called in the destination region): records the replication of the
  source instance and takes its first copy at once, then one every EHRBASE_LOCAL_BACKUP_INTERVAL seconds (default
  60) when the database was written since the last one. StopDBInstanceAutomatedBackupsReplication stops the copies; the ones taken are kept ("retained").
* DescribeDBInstanceAutomatedBackups in the destination region lists them with AWS's fields; RestoreWindow runs
  from the first to the newest copy (LatestTime is the recovery point).
* RestoreDBInstanceToPointInTime with SourceDBInstanceAutomatedBackupsArn: a new DB instance ("creating", then
  "available") whose endpoint is a real PostgreSQL server on 127.0.0.1 holding the newest copy at or before
  RestoreTime (UseLatestRestorableTime: the newest). DeleteDBInstance of it stops that server and removes its files.
* A LOST REGION (`python local/localenv.py lose <region>` writes STATE/lost/<region>): every API call for that
  region is answered with HTTP 503 and logged in STATE/lost/<region>.calls, so a test can prove nobody called it.
"""

import datetime
import os
import random
import string
import threading
import time
import traceback

import backups
from settings import STATE  # noqa: E402  pylint: disable=wrong-import-position

INTERVAL = int(os.environ.get("EHRBASE_LOCAL_BACKUP_INTERVAL", "60"))
_lock = threading.Lock()


def lost_regions():
    path = os.path.join(STATE, "lost")
    return {n for n in os.listdir(path) if not n.endswith(".calls")} if os.path.isdir(path) else set()


def _utc(iso):
    return datetime.datetime.fromisoformat(iso)


def _replications(backend):
    """Replications INTO this (destination) region's backend; gone with the backend on a moto reset."""
    return backend.__dict__.setdefault("_medzen_replications", {})


def _describe(rec):
    found = backups.copies(rec["source_region"], since=rec["started"])
    window = {"EarliestTime": _utc(found[0]["time"]), "LatestTime": _utc(found[-1]["time"])} if found else {}
    return {
        "DBInstanceArn": rec["source_arn"], "DbiResourceId": rec["dbi_resource_id"], "Region": rec["source_region"],
        "DBInstanceIdentifier": rec["identifier"], "RestoreWindow": window,
        "AllocatedStorage": rec["allocated_storage"], "Status": "replicating" if rec["active"] else "retained",
        "Port": 5432, "InstanceCreateTime": rec["created"], "MasterUsername": rec["master_username"],
        "Engine": rec["engine"], "EngineVersion": rec["engine_version"], "Encrypted": True, "KmsKeyId": rec["kms"],
        "StorageType": rec["storage_type"], "BackupRetentionPeriod": rec["retention"],
        "DBInstanceAutomatedBackupsArn": rec["arn"],
    }


def _copy(rec):
    """One copy of the source region's database now (skipped while the source region is lost)."""
    with _lock:
        if rec["source_region"] in lost_regions() or not rec["active"]:
            return
        try:
            position = backups.wal_position(rec["source_region"])
            if position != rec.get("position"):  # nothing written since the last copy: it is still the newest point
                backups.take(rec["source_region"])
                rec["position"] = position
        except Exception:  # the source server is down: AWS would lag, report nothing
            traceback.print_exc()
        rec["last_copy"] = time.time()


def _copier(rds_backends):
    while True:
        time.sleep(5)
        for regions in list(rds_backends.values()):
            for backend in list(regions.values()):
                for rec in list(_replications(backend).values()):
                    if rec["active"] and time.time() - rec["last_copy"] >= INTERVAL:
                        _copy(rec)


def _source(rds_backends, account, source_arn, errors):
    parts = source_arn.split(":")
    if len(parts) != 7 or parts[5] != "db":
        raise errors.InvalidParameterValue("SourceDBInstanceArn %s is not a DB instance ARN" % source_arn)
    database = rds_backends[account][parts[3]].databases.get(parts[6])
    if database is None:
        raise errors.DBInstanceNotFoundError(source_arn)
    return parts[3], database


def _new_record(response, rds_backends, errors):
    source_arn = response.params.get("SourceDBInstanceArn")
    region, db = _source(rds_backends, response.current_account, source_arn, errors)
    if region == response.region:
        raise errors.InvalidParameterValue("The source DB instance must be in another region than %s" % region)
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for dummy in range(26))
    return {
        "arn": "arn:aws:rds:%s:%s:auto-backup:ab-%s" % (response.region, response.current_account, suffix),
        "source_arn": source_arn, "source_region": region, "identifier": db.db_instance_identifier,
        "dbi_resource_id": db.dbi_resource_id, "engine": db.engine, "engine_version": db.engine_version,
        "master_username": db.master_username, "allocated_storage": db.allocated_storage,
        "storage_type": db.storage_type or "gp3", "created": db.created,
        "kms": response.params.get("KmsKeyId"), "retention": int(response.params.get("BackupRetentionPeriod") or 7),
        "started": datetime.datetime.now(datetime.timezone.utc), "active": True, "last_copy": 0.0,
    }


def _pick_copy(rec, params, errors):
    found = backups.copies(rec["source_region"], since=rec["started"])
    wanted = params.get("RestoreTime")
    if wanted and not params.get("UseLatestRestorableTime"):
        wanted = wanted if isinstance(wanted, datetime.datetime) else _utc(str(wanted).replace("Z", "+00:00"))
        if wanted.tzinfo is None:  # the request's timestamp is UTC
            wanted = wanted.replace(tzinfo=datetime.timezone.utc)
        found = [c for c in found if _utc(c["time"]) <= wanted]
    if not found:
        raise errors.InvalidParameterValue("No restorable time: %s has no backup copy in this region yet"
                                           % rec["identifier"])
    return found[-1]


def _restore_kwargs(rec, params):
    return {
        "db_instance_identifier": params.get("TargetDBInstanceIdentifier"), "engine": rec["engine"],
        "engine_version": rec["engine_version"], "db_instance_class": params.get("DBInstanceClass") or "db.t3.medium",
        "allocated_storage": rec["allocated_storage"], "storage_type": params.get("StorageType") or rec["storage_type"],
        "master_username": rec["master_username"], "db_subnet_group_name": params.get("DBSubnetGroupName"),
        "vpc_security_group_ids": params.get("VpcSecurityGroupIds") or [], "multi_az": bool(params.get("MultiAZ")),
        "storage_encrypted": True, "kms_key_id": rec["kms"], "publicly_accessible": False,
        "tags": params.get("Tags") or [], "deletion_protection": bool(params.get("DeletionProtection")),
        "copy_tags_to_snapshot": bool(params.get("CopyTagsToSnapshot")), "port": 5432,
        "db_parameter_group_name": params.get("DBParameterGroupName"),
    }


def _load(database, identifier, copy):
    from localenv import Service

    try:
        port = backups.restore(Service, identifier, copy)
        database.__dict__["_medzen_address"] = "127.0.0.1"
        database.port = port
        database.status = "available"
    except Exception:
        traceback.print_exc()
        database.status = "incompatible-restore"


def apply():
    from moto.core.responses import ActionResult, BaseResponse
    from moto.rds import exceptions as errors
    from moto.rds import models as rds_models
    from moto.rds.responses import RDSResponse

    rds_backends = rds_models.rds_backends

    def start_replication(self):
        rec = _new_record(self, rds_backends, errors)
        current = _replications(self.backend).get(rec["source_arn"])
        if current and current["active"]:
            raise errors.InvalidDBInstanceStateFault("Automated backup replication of %s to %s is already on"
                                                     % (rec["identifier"], self.region))
        _replications(self.backend)[rec["source_arn"]] = rec
        threading.Thread(target=_copy, args=(rec,), daemon=True).start()
        return ActionResult({"DBInstanceAutomatedBackup": _describe(rec)})

    def stop_replication(self):
        rec = _replications(self.backend).get(self.params.get("SourceDBInstanceArn"))
        if rec is None or not rec["active"]:
            raise errors.InvalidDBInstanceStateFault("No automated backup replication of %s to %s"
                                                     % (self.params.get("SourceDBInstanceArn"), self.region))
        rec["active"] = False
        return ActionResult({"DBInstanceAutomatedBackup": _describe(rec)})

    describe = RDSResponse.describe_db_instance_automated_backups

    def describe_with_copies(self):
        keys = (("DBInstanceIdentifier", "identifier"), ("DbiResourceId", "dbi_resource_id"),
                ("DBInstanceAutomatedBackupsArn", "arn"))
        mine = [_describe(r) for r in _replications(self.backend).values()
                if all(not self.params.get(p) or self.params.get(p) == r[k] for p, k in keys)]
        return ActionResult({"DBInstanceAutomatedBackups": mine}) if mine else describe(self)

    restore = RDSResponse.restore_db_instance_to_point_in_time

    def restore_from_copy(self):
        arn = self.params.get("SourceDBInstanceAutomatedBackupsArn")
        rec = next((r for r in _replications(self.backend).values() if arn and r["arn"] == arn), None)
        if rec is None:
            return restore(self)
        copy = _pick_copy(rec, self.params, errors)
        database = self.backend.create_db_instance(_restore_kwargs(rec, self.params))
        database.status = "creating"
        threading.Thread(target=_load, args=(database, database.db_instance_identifier, copy), daemon=True).start()
        return ActionResult({"DBInstance": database})

    RDSResponse.start_db_instance_automated_backups_replication = start_replication
    RDSResponse.stop_db_instance_automated_backups_replication = stop_replication
    RDSResponse.describe_db_instance_automated_backups = describe_with_copies
    RDSResponse.restore_db_instance_to_point_in_time = restore_from_copy

    address = rds_models.DBInstance.address
    rds_models.DBInstance.address = property(lambda self: self.__dict__.get("_medzen_address") or address.fget(self))

    delete = rds_models.RDSBackend.delete_db_instance

    def delete_discarding_restored(self, db_instance_identifier, *args, **kwargs):
        replica = self.databases.get(db_instance_identifier)
        if replica is not None and replica.__dict__.get("is_replica"):
            # Detached here: moto records a cross-region replica on its source by ARN but removes it by identifier
            # (a ValueError), and fails when the source was deleted first - either after removing the instance,
            # which left its server behind.
            try:
                source = self.find_db_from_id(replica.source_db_instance_identifier)
                mine = (replica.db_instance_arn, replica.db_instance_identifier)
                source.replicas = [r for r in source.replicas if r not in mine]
            except Exception:  # pylint: disable=broad-exception-caught  # the source is gone: nothing to detach
                pass
            replica.is_replica = False
        database = delete(self, db_instance_identifier, *args, **kwargs)
        if db_instance_identifier in backups.restored_servers():
            from localenv import Service

            # At once, not in a thread: a read replica made right after under the same identifier (a switchover
            # rebuilds the old writer's database) must not have its new server discarded by the old one's clean-up.
            backups.discard(Service, db_instance_identifier)
        return database

    rds_models.RDSBackend.delete_db_instance = delete_discarding_restored

    call_action = BaseResponse.call_action

    def call_action_unless_lost(self):
        if self.region in lost_regions():
            with open(os.path.join(STATE, "lost", self.region + ".calls"), "a") as fh:
                fh.write("%s %s %s\n" % (time.strftime("%H:%M:%S"), getattr(self, "service_name", "?"),
                                         self._get_action()))
            return 503, {"Content-Type": "text/plain"}, "Service Unavailable (EMULATED: region %s is lost)" % self.region
        return call_action(self)

    BaseResponse.call_action = call_action_unless_lost
    threading.Thread(target=_copier, args=(rds_backends,), daemon=True).start()
