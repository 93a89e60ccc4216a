"""EMULATION (local mode only, not AWS) of RDS backup copies and of restoring one as a new DB instance.

On AWS, automated-backup replication ships a region's snapshots and transaction logs to its partner region,
and RestoreDBInstanceToPointInTime builds a new instance from them. Here:

* a COPY is a real dump of the region's local PostgreSQL at that moment: its roles with their password hashes
  (`pg_dumpall --globals-only`) and every database (`pg_dump -Fc`), in STATE/backups/<region>/<UTC time>/.
  The emulator takes one when a replication starts and then every EHRBASE_LOCAL_BACKUP_INTERVAL seconds (default
  60) if the database was written since, so the local RECOVERY POINT is at most a minute old (plus the dump's
  seconds) - fresher than AWS's (transaction logs shipped about every five minutes), so that a drill right after
  `make local` finds the bootstrapped database; `python local/localenv.py backup <region>` takes one at once.
* a RESTORED INSTANCE is a real PostgreSQL server on its own port, started empty and loaded with exactly one
  copy (STATE/pg/restored/<identifier>/). Deleting the DB instance stops it and removes its files.

The dump tools come from the `pgserver` wheel (PostgreSQL 16 client programs; the npm server build has none).
"""

import datetime
import importlib.util
import json
import os
import shutil
import subprocess

import pg
from settings import STATE  # noqa: E402  pylint: disable=wrong-import-position

RESTORED_BASE = 20  # restored servers listen on pg.BASE_PORT + OFFSET + 20, 21, ...


def client_bin(tool):
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the PostgreSQL client programs (pgserver wheel) are missing; run `make setup`")
    return os.path.join(list(spec.submodule_search_locations)[0], "pginstall", "bin", tool)


def copies_dir(region):
    return os.path.join(STATE, "backups", region)


def _superuser(host, port):
    return ["-h", host, "-p", str(port), "-U", "postgres"]


def _databases(sock, port):
    import psycopg2

    conn = psycopg2.connect(host=sock, port=port, user="postgres", dbname="postgres", connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
            return sorted(r[0] for r in cur.fetchall())
    finally:
        conn.close()


def take(region):
    """One copy of the region's PostgreSQL now; returns its metadata. Written to a temporary name, then renamed."""
    sock, port = pg.socket_dir(region), pg.port(region)
    when = datetime.datetime.now(datetime.timezone.utc)
    final = os.path.join(copies_dir(region), when.strftime("%Y%m%dT%H%M%S.%fZ"))
    work = final + ".partial"
    os.makedirs(work)
    with open(os.path.join(work, "globals.sql"), "w") as fh:
        subprocess.run([client_bin("pg_dumpall"), "--globals-only", *_superuser(sock, port)], stdout=fh, check=True, timeout=120)
    databases = _databases(sock, port)
    for name in databases:
        subprocess.run([client_bin("pg_dump"), "-Fc", "--create", "-f", os.path.join(work, name + ".dump"),
                        *_superuser(sock, port), name], check=True, timeout=600)
    meta = {"region": region, "time": when.isoformat(), "databases": databases, "emulation": True}
    with open(os.path.join(work, "meta.json"), "w") as fh:
        json.dump(meta, fh)
    os.rename(work, final)
    meta["path"] = final
    return meta


def wal_position(region):
    """Where the region's write-ahead log stands: unchanged means nothing was written."""
    import psycopg2

    conn = psycopg2.connect(host=pg.socket_dir(region), port=pg.port(region), user="postgres", dbname="postgres",
                            connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            return cur.fetchone()[0]
    finally:
        conn.close()


def copies(region, since=None):
    """The region's complete copies, oldest first (metadata with `path`); only those taken at or after `since`."""
    found = []
    base = copies_dir(region)
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        path = os.path.join(base, name, "meta.json")
        if name.endswith(".partial") or not os.path.exists(path):
            continue
        with open(path) as fh:
            meta = dict(json.load(fh), path=os.path.dirname(path))
        if since is None or datetime.datetime.fromisoformat(meta["time"]) >= since:
            found.append(meta)
    return found


def restored_dir(identifier):
    return os.path.join(STATE, "pg", "restored", identifier)


def restored_servers():
    """identifier -> port of every restored server that exists on disk."""
    base = os.path.join(STATE, "pg", "restored")
    out = {}
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, name, "port")) as fh:
                out[name] = int(fh.read())
        except (OSError, ValueError):
            continue
    return out


def server_region(identifier):
    """The region an extra server belongs to (a read replica records it, see replicas.py), or None."""
    try:
        with open(os.path.join(restored_dir(identifier), "region")) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _free_port():
    used = set(restored_servers().values())
    port = pg.BASE_PORT + pg.OFFSET + RESTORED_BASE
    while port in used:
        port += 1
    return port


def restore(Service, identifier, copy):
    """A new PostgreSQL server holding exactly `copy`; returns its port."""
    home = restored_dir(identifier)
    os.makedirs(home, exist_ok=True)
    port = _free_port()
    with open(os.path.join(home, "port"), "w") as fh:
        fh.write(str(port))
    server = pg.server(Service, "postgres-restored-" + identifier, os.path.join(home, "data"), port)
    server.start()
    sock = pg.socket_for_port(port)
    # Roles first (the master, owner and app roles with their passwords), then each database with its owner.
    subprocess.run([client_bin("psql"), "-q", "-f", os.path.join(copy["path"], "globals.sql"),
                    *_superuser(sock, port), "postgres"], check=True, capture_output=True, timeout=120)
    for name in copy["databases"]:
        subprocess.run([client_bin("pg_restore"), "--create", "--exit-on-error", "-d", "postgres",
                        *_superuser(sock, port), os.path.join(copy["path"], name + ".dump")],
                       check=True, capture_output=True, timeout=600)
    return port


def discard(Service, identifier):
    """Stop a restored server and delete its files (the DB instance was deleted)."""
    servers = restored_servers()
    if identifier not in servers:
        return
    pg.server(Service, "postgres-restored-" + identifier, os.path.join(restored_dir(identifier), "data"),
              servers[identifier]).stop()
    shutil.rmtree(restored_dir(identifier), ignore_errors=True)
