"""One real PostgreSQL 16 server per region (the major version the rds role deploys): the local stand-in for RDS.

Each server's bootstrap superuser ("postgres") is reachable only through the
unix socket in its data directory; over TCP only password logins work, exactly
like RDS. The region's master user is created by the emulator when the `rds`
role creates the DB instance (see moto_shims.py), with RDS-like rights:
LOGIN CREATEDB CREATEROLE, not SUPERUSER.
"""

import os
import pwd
import shutil
import subprocess

from settings import OFFSET, REGIONS, ROOT, STATE  # noqa: E402  pylint: disable=wrong-import-position

# Installed by `make setup` (local/install_postgres.py); EHRBASE_PG_BIN points elsewhere.
PG_BIN = os.environ.get("EHRBASE_PG_BIN", os.path.join(ROOT, ".venv", "pgsql", "16", "bin"))
BASE_PORT = 15432


def state_dir():
    return STATE


def port(region):
    return BASE_PORT + OFFSET + REGIONS.index(region)


def datadir(region):
    return os.path.join(state_dir(), "pg", region)


def run_as_postgres(argv, **kw):
    """PostgreSQL refuses to run as root; use the Debian `postgres` account then."""
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def ensure_traversable(path):
    # The postgres account must reach the data dir through the checkout's parents.
    while path not in ("/", ""):
        mode = os.stat(path).st_mode
        if not mode & 0o001:
            os.chmod(path, mode | 0o001)
        path = os.path.dirname(path)


def socket_for_port(number):
    """Outside the checkout: tools that walk the repo (ansible-lint) choke on sockets."""
    import tempfile

    return os.path.join(tempfile.gettempdir(), "medzen-ehrbase-pg-%d" % number)


def socket_dir(region):
    return socket_for_port(port(region))


def pg_port_map():
    """For the emulator: region -> (socket dir, port) of each local PostgreSQL."""
    return ",".join("%s=%s:%d" % (r, socket_dir(r), port(r)) for r in REGIONS)


def check_data_version(data):
    """A data directory an older major version made cannot be opened by this server: say so, delete nothing."""
    with open(os.path.join(data, "PG_VERSION")) as fh:
        have = fh.read().strip()
    want = os.path.basename(os.path.dirname(PG_BIN))
    if want.isdigit() and have != want:
        raise SystemExit("%s holds a PostgreSQL %s database; the local servers now run PostgreSQL %s (what RDS runs). "
                         "Its data is the local emulation's only: move the directory away (or `python local/localenv.py "
                         "down` and delete %s) and start again - it is re-created empty." % (data, have, want, data))


def server(Service, name, data, number):
    """A PostgreSQL server as a localenv Service: initdb on first start, superuser only through its socket."""

    class PgService(Service):
        def prepare(self):
            sock = socket_for_port(number)
            os.makedirs(sock, exist_ok=True)
            if os.geteuid() == 0:
                ent = pwd.getpwnam("postgres")
                os.chown(sock, ent.pw_uid, ent.pw_gid)
            if os.path.exists(os.path.join(data, "PG_VERSION")):
                check_data_version(data)
                return
            if not os.path.exists(os.path.join(PG_BIN, "postgres")):
                raise SystemExit("PostgreSQL 16 is not installed (%s); run `make setup`." % PG_BIN)
            os.makedirs(data, exist_ok=True)
            if os.geteuid() == 0:
                ent = pwd.getpwnam("postgres")
                os.chown(data, ent.pw_uid, ent.pw_gid)
                ensure_traversable(os.path.dirname(data))
                ensure_traversable(PG_BIN)
            os.chmod(data, 0o700)
            print("%-22s initdb %s" % (self.name, os.path.relpath(data)), flush=True)
            run_as_postgres([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "-E", "UTF8",
                             "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"])
            with open(os.path.join(data, "postgresql.auto.conf"), "a") as fh:
                fh.write("listen_addresses = '127.0.0.1'\nport = %d\n"
                         "password_encryption = 'scram-sha-256'\nmax_connections = 50\n"
                         "shared_buffers = 32MB\nfsync = off\n" % number)
            # Superuser only through the socket; TCP needs a password, like RDS.
            with open(os.path.join(data, "pg_hba.conf"), "w") as fh:
                # (replication: a read replica streams from this server through its socket, see replicas.py)
                fh.write("local all postgres trust\nlocal replication postgres trust\n"
                         "host all all 127.0.0.1/32 scram-sha-256\n")

    argv = [os.path.join(PG_BIN, "postgres"), "-D", data, "-k", socket_for_port(number)]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return PgService(name, number, argv, ready_timeout=60)


def make_service(Service, region):
    return server(Service, "postgres-" + region, datadir(region), port(region))


def services(Service):
    if not shutil.which("runuser") and os.geteuid() == 0:
        raise SystemExit("runuser (util-linux) is needed to run PostgreSQL as the postgres account")
    return [make_service(Service, r) for r in REGIONS]


def reset(region):
    """Empty one local server (tests only): every database and role but the bootstrap superuser."""
    import psycopg2

    conn = psycopg2.connect(host=socket_dir(region), port=port(region), user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
            for (name,) in cur.fetchall():
                cur.execute('DROP DATABASE "%s" WITH (FORCE)' % name.replace('"', '""'))
            cur.execute("SELECT rolname FROM pg_roles WHERE rolname <> 'postgres' AND rolname NOT LIKE 'pg\\_%'")
            for (name,) in cur.fetchall():
                cur.execute('DROP ROLE "%s"' % name.replace('"', '""'))
    finally:
        conn.close()
