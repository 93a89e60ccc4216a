"""EMULATION (local mode only, not AWS) of RDS cross-region read replicas, with real PostgreSQL streaming replication.

On AWS, CreateDBInstanceReadReplica builds a new instance in another region from a snapshot of the source, then
keeps it current by shipping the source's write-ahead log (asynchronous physical replication); the replica is
read-only (a hot standby) until PromoteReadReplica makes it a stand-alone, writable instance. Here:

* a REPLICA is a real PostgreSQL server on its own port (STATE/pg/restored/<identifier>/, beside the restored
  servers of backups.py, so `localenv.py up` starts it again and DeleteDBInstance removes it), made with
  `pg_basebackup -R` from the source's server and started as a hot standby streaming from it: every committed
  transaction of the source arrives within about a second while both run;
* PROMOTION is a real `pg_promote()`: the server leaves recovery and takes writes; whatever the source committed
  and the replica had not received is not there (the data a failover loses);
* the LAG is read from the replica itself: how far the WAL it received is behind the source's (when the source
  answers) and the commit time of the last transaction it replayed.

The replica's region is recorded (its `region` file) so that `localenv.py lose <region>` stops it with the region.
The bootstrap superuser reaches every server through its Unix socket only (pg.py), replication included.
"""

import datetime
import os
import shutil
import subprocess

import backups
import pg

REPLICA_MARK = "replica_of"  # file in the replica's directory: "<source region> <source socket dir> <source port>"


def replica_servers():
    """identifier -> (port, source description) of every replica server on disk."""
    out = {}
    for identifier, port in backups.restored_servers().items():
        mark = os.path.join(backups.restored_dir(identifier), REPLICA_MARK)
        if os.path.exists(mark):
            with open(mark) as fh:
                out[identifier] = (port, fh.read().strip())
    return out


def allow_replication(sock, port):
    """The source must let the bootstrap superuser open a replication connection through its socket (pg_hba.conf)."""
    import psycopg2

    conn = psycopg2.connect(host=sock, port=port, user="postgres", dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW hba_file")
            hba = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) AND type = 'local'")
            if cur.fetchone()[0]:
                return
            with open(hba, "a") as fh:  # the file stays the postgres account's
                fh.write("local replication postgres trust\n")
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


def create(Service, identifier, region, source_sock, source_port, source_region):
    """A hot standby of the server at (source_sock, source_port) as a new server; returns its port."""
    home = backups.restored_dir(identifier)
    data = os.path.join(home, "data")
    if os.path.isdir(home):  # a create interrupted before, or a server left behind: start over (nothing of its own)
        backups.discard(Service, identifier)
        shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home)
    port = backups._free_port()  # pylint: disable=protected-access
    allow_replication(source_sock, source_port)
    os.makedirs(data, mode=0o700)
    if os.geteuid() == 0:
        import pwd

        ent = pwd.getpwnam("postgres")
        os.chown(data, ent.pw_uid, ent.pw_gid)
        pg.ensure_traversable(home)
    tool = backups.client_bin("pg_basebackup")  # the client programs come from the pgserver wheel (backups.py)
    if os.geteuid() == 0:
        pg.ensure_traversable(os.path.dirname(tool))
    try:
        pg.run_as_postgres([tool, "-D", data, "-h", source_sock, "-p", str(source_port), "-U", "postgres", "-R",
                            "-X", "stream", "--checkpoint=fast"], timeout=600)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError("pg_basebackup of %s:%d failed: %s" % (source_sock, source_port, exc.stderr)) from exc
    # The copy carries the source's port; the replica listens on its own.
    with open(os.path.join(data, "postgresql.auto.conf"), "a") as fh:
        fh.write("port = %d\nhot_standby = on\n" % port)
    with open(os.path.join(home, REPLICA_MARK), "w") as fh:
        fh.write("%s %s %d" % (source_region, source_sock, source_port))
    with open(os.path.join(home, "region"), "w") as fh:
        fh.write(region)
    # The port file last: from then on the server is one of the extra servers localenv starts.
    with open(os.path.join(home, "port"), "w") as fh:
        fh.write(str(port))
    pg.server(Service, "postgres-restored-" + identifier, data, port).start()
    return port


def _query(sock, port, sql_text):
    import psycopg2

    conn = psycopg2.connect(host=sock, port=port, user="postgres", dbname="postgres", connect_timeout=3)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql_text)
            return cur.fetchone()
    finally:
        conn.close()


def promote(identifier):
    """Make the replica a stand-alone, writable server (waits for it, at most a minute)."""
    port = backups.restored_servers()[identifier]
    done = _query(pg.socket_for_port(port), port, "SELECT pg_promote(true, 60)")[0]
    if not done:
        raise RuntimeError("the replica %s (port %d) did not leave recovery within 60 s" % (identifier, port))
    mark = os.path.join(backups.restored_dir(identifier), REPLICA_MARK)
    if os.path.exists(mark):
        os.unlink(mark)


def lag(port, source=None):
    """What the replica on `port` has: {replicating, lag_seconds, last_replayed} (None where it cannot tell).

    lag_seconds is 0 when the replica has replayed everything the source has written (the source answers), else the
    time since the last transaction it replayed; with the source gone it is that age (an upper bound of the loss).
    """
    sock = pg.socket_for_port(port)
    in_recovery, replay_lsn, replayed_at, receiving = _query(
        sock, port, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp(), "
        "(SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming')")
    if not in_recovery:
        return {"replicating": False, "lag_seconds": None, "last_replayed": None}
    now = datetime.datetime.now(datetime.timezone.utc)
    caught_up = False
    if source:
        try:
            caught_up = _query(source[0], source[1], "SELECT pg_current_wal_lsn() <= '%s'::pg_lsn" % replay_lsn)[0]
        except Exception:  # the source is down (a lost region): only the replica's own clock tells
            caught_up = False
    seconds = 0.0 if caught_up else ((now - replayed_at).total_seconds() if replayed_at else None)
    return {"replicating": bool(receiving), "lag_seconds": seconds,
            "last_replayed": replayed_at.isoformat() if replayed_at else None}


def _server_of(database):
    """(socket dir, port) of the PostgreSQL server behind a DB instance of the emulator."""
    address = database.__dict__.get("_medzen_address")
    if address:  # a restored instance or a replica: its own server
        return pg.socket_for_port(database.port), int(database.port)
    return pg.socket_dir(database.region), pg.port(database.region)


def _build(database, identifier, region, source, source_region):
    from localenv import Service

    try:
        port = create(Service, identifier, region, *source, source_region)
        database.__dict__["_medzen_address"] = "127.0.0.1"
        database.port = port
        database.status = "available"
    except Exception:
        import traceback

        traceback.print_exc()
        database.status = "failed"


def _promote(database, identifier):
    try:
        promote(identifier)
        database.status = "available"
    except Exception:
        import traceback

        traceback.print_exc()
        database.status = "failed"


def status_infos(database):
    """AWS's StatusInfos of a replica: read replication replicating, or in error when it streams from nobody."""
    servers = replica_servers()
    if not database.__dict__.get("is_replica") or database.db_instance_identifier not in servers:
        return []
    port, source = servers[database.db_instance_identifier]
    region, sock, source_port = source.split()
    try:
        found = lag(port, (sock, int(source_port)))
    except Exception as exc:  # the replica's server is down
        return [{"StatusType": "read replication", "Normal": False, "Status": "error",
                 "Message": "the replica's server does not answer: %s" % str(exc).strip()}]
    if found["replicating"]:
        return [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    return [{"StatusType": "read replication", "Normal": False, "Status": "error",
             "Message": "Replication from %s has stopped: the source does not answer" % region}]


def replica_lag(identifier):
    """ReplicaLag (seconds) of a replica of the emulator, as CloudWatch would report it; None if not a replica."""
    servers = replica_servers()
    if identifier not in servers:
        return None
    port, source = servers[identifier]
    dummy, sock, source_port = source.split()
    return lag(port, (sock, int(source_port)))["lag_seconds"]


def apply():
    """moto: CreateDBInstanceReadReplica builds a real hot standby, PromoteReadReplica promotes it for real,
    DescribeDBInstances reports the replication, CloudWatch's ReplicaLag is read from the replica."""
    import threading

    from moto.rds import models as rds_models

    backend_cls = rds_models.RDSBackend
    create_replica, promote_replica = backend_cls.create_db_instance_read_replica, backend_cls.promote_read_replica

    def create_db_instance_read_replica(self, db_kwargs):
        source = self.find_db_from_id(db_kwargs["source_db_instance_identifier"])
        # moto sets the replica's backend (its region) after its other settings, so the subnet group of a
        # cross-region replica was looked up in the source's region: the replica's region first.
        replica = create_replica(self, dict({"backend": self}, **db_kwargs))
        replica.__dict__.pop("_medzen_address", None)  # a copy of the source's model, not of its server
        replica.status = "creating"
        threading.Thread(target=_build, args=(replica, replica.db_instance_identifier, self.region_name,
                                              _server_of(source), source.region), daemon=True).start()
        return replica

    def promote_read_replica(self, db_kwargs):
        database = self.databases.get(db_kwargs["db_instance_identifier"])
        was_replica = database is not None and database.__dict__.get("is_replica")
        source_id = database.source_db_instance_identifier if was_replica else None
        database = promote_replica(self, db_kwargs)
        if was_replica:
            try:
                source = self.find_db_from_id(source_id)
                mine = (database.db_instance_arn, database.db_instance_identifier)
                source.replicas = [r for r in source.replicas if r not in mine]
            except Exception:  # the source is gone (deleted): nothing to detach from
                pass
            database.source_db_instance_identifier = None
            if database.db_instance_identifier in replica_servers():
                database.status = "modifying"
                threading.Thread(target=_promote, args=(database, database.db_instance_identifier),
                                 daemon=True).start()
        return database

    backend_cls.create_db_instance_read_replica = create_db_instance_read_replica
    backend_cls.promote_read_replica = promote_read_replica
    rds_models.DBInstance.status_infos = property(status_infos)
