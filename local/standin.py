"""EHRbase STAND-IN for local mode only. It is not EHRbase.

EHRbase (a JVM service in a container) cannot run here, so this small server
answers the endpoints the collection checks, with EHRbase's status codes and
headers, and behaves like the container ECS would start:

* its configuration comes from the region's ECS task definition in the
  emulator (environment + `secrets` valueFrom resolved through Secrets Manager),
  so a task definition without DB_USER_ADMIN "crashes" it like EHRbase 2.x;
* it answers only while the ECS service wants tasks (desiredCount > 0), so a
  failover drill that scales a region to 0 sees it go down;
* EMULATED bad release: a task definition whose image tag ends in `-broken`
  never becomes healthy (503, "container exits at start-up");
* on a read replica (a warm standby) it reads, and a write fails with PostgreSQL's own "cannot execute INSERT in a
  read-only transaction" (a 500, as EHRbase answers); with SPRING_FLYWAY_EHR_STRATEGY=VALIDATE it never migrates;
* like EHRbase it migrates as the owner role (DB_USER_ADMIN, what Flyway does)
  and serves as the restricted role (DB_USER) against the region's PostgreSQL,
  so wrong grants from db_init show up as failed writes.

Every response carries `X-EHRbase-Standin: true`; /rest/status says "stand-in".
"""

import base64
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from settings import OFFSET, REGIONS  # noqa: E402  pylint: disable=wrong-import-position
BASE_PORT = 18080
REQUIRED_ENV = ("DB_URL", "DB_USER", "DB_PASS", "DB_USER_ADMIN", "DB_PASS_ADMIN", "SECURITY_AUTHTYPE",
                "SECURITY_AUTHUSER", "SECURITY_AUTHPASSWORD", "SECURITY_AUTHADMINUSER",
                "SECURITY_AUTHADMINPASSWORD")
PREFIX = "/ehrbase"


def port(region):
    return BASE_PORT + OFFSET + REGIONS.index(region)


def services(Service):
    import pg

    out = []
    for region in REGIONS:
        env = {"EHRBASE_STANDIN_PG_PORT": str(pg.port(region))}
        out.append(Service("standin-" + region, port(region),
                           [sys.executable, os.path.abspath(__file__), region], env=env, ready_timeout=30))
    return out


class Container:
    """What ECS would have started: config from the task definition, DB connections."""

    def __init__(self, region):
        self.region = region
        self.pg_port = int(os.environ["EHRBASE_STANDIN_PG_PORT"])
        self.lock = threading.Lock()
        self.loaded_at = 0.0
        self.config = None
        self.problem = "starting"
        self.migrated_for = None

    def aws(self, service):
        import boto3

        from botocore.config import Config

        # The user agent tells the emulator's data-plane emulation (ecs_plane.py) that the stand-in is asking.
        return boto3.client(service, region_name=self.region, config=Config(user_agent_extra="ehrbase-standin"),
                            endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def resolve(self, value_from, cache):
        """secrets valueFrom: <secret-arn>[:<json-key>:<version-stage>:<version-id>]."""
        arn, dummy, rest = value_from.partition(":secret:")
        name_and_key = rest.split(":")
        secret_id = arn + ":secret:" + name_and_key[0]
        if secret_id not in cache:
            cache[secret_id] = self.aws("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        raw = cache[secret_id]
        if len(name_and_key) > 1 and name_and_key[1]:
            return json.loads(raw)[name_and_key[1]]
        return raw

    def discover(self):
        """Find the EHRbase service in this region and read its task definition."""
        ecs = self.aws("ecs")
        for cluster in ecs.list_clusters()["clusterArns"]:
            for svc_arn in ecs.list_services(cluster=cluster).get("serviceArns", []):
                svc = ecs.describe_services(cluster=cluster, services=[svc_arn])["services"][0]
                if svc.get("status") != "ACTIVE" or "ehrbase" not in svc["serviceName"]:
                    continue
                # During a rollout the old revision serves until the new deployment has COMPLETED (minimum
                # healthy 100 %): serve the newest completed deployment's revision.
                serving = [d for d in svc.get("deployments", []) if d.get("rolloutState") == "COMPLETED"
                           and d.get("status") in ("PRIMARY", "ACTIVE")]
                arn = serving[0]["taskDefinition"] if serving else svc["taskDefinition"]
                td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                container = td["containerDefinitions"][0]
                env = {e["name"]: e["value"] for e in container.get("environment", [])}
                cache = {}
                for secret in container.get("secrets", []):
                    env[secret["name"]] = self.resolve(secret["valueFrom"], cache)
                return {"desired": svc["desiredCount"], "env": env, "service": svc["serviceName"],
                        "image": container["image"], "revision": td["revision"]}
        return None

    def current(self):
        with self.lock:
            if time.monotonic() - self.loaded_at > 2:
                self.loaded_at = time.monotonic()
                try:
                    self.config = self.discover()
                    self.problem = None if self.config else "no EHRbase ECS service deployed in %s" % self.region
                except Exception as exc:  # emulator down or reset: report, keep serving
                    self.config, self.problem = None, "cannot read the ECS service: %s" % exc
                if self.config:
                    missing = [k for k in REQUIRED_ENV if not self.config["env"].get(k)]
                    if missing:
                        # EHRbase 2.x exits before logging anything without these.
                        self.problem = "container exits at start-up: missing %s" % ", ".join(missing)
                    elif self.config["image"].endswith("-broken"):
                        # EMULATED bad release: an image tag ending in -broken never becomes healthy.
                        self.problem = "container exits at start-up: %s fails to start (emulated bad release)" % (
                            self.config["image"])
                    elif self.config["desired"] == 0:
                        self.problem = "service %s is scaled to 0 tasks" % self.config["service"]
            return self.config, self.problem

    def connect(self, env, admin=False):
        import psycopg2

        m = re.match(r"^jdbc:postgresql://([^/:]+)(?::(\d+))?/([^?]+)", env["DB_URL"])
        dbname = m.group(3) if m else "ehrbase"
        # An RDS endpoint name is the region's local PostgreSQL; an instance the emulator restored from a backup copy
        # (see backups.py) has a real 127.0.0.1:<port> endpoint, used as it is.
        port = int(m.group(2)) if m and m.group(1) == "127.0.0.1" and m.group(2) else self.pg_port
        user, password = (env["DB_USER_ADMIN"], env["DB_PASS_ADMIN"]) if admin else (env["DB_USER"], env["DB_PASS"])
        conn = psycopg2.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, password=password,
                                connect_timeout=3)
        conn.autocommit = True
        return conn

    def migrate(self, env):
        """What Flyway does at EHRbase start-up: create its tables as the owner role."""
        key = (env["DB_USER_ADMIN"], env["DB_URL"])
        if self.migrated_for == key:
            return
        conn = self.connect(env, admin=True)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS ehr.ehr (id uuid PRIMARY KEY, "
                        "creation_date timestamptz NOT NULL DEFAULT now(), system_id text NOT NULL)")
        conn.close()
        self.migrated_for = key


class Handler(BaseHTTPRequestHandler):
    server_version = "EHRbase-standin/1.0"
    container = None

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body=None, headers=None):
        data = b"" if body is None else (json.dumps(body).encode() if not isinstance(body, bytes) else body)
        self.send_response(code)
        self.send_header("X-EHRbase-Standin", "true")
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorised(self, env):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, dummy, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) in ((env["SECURITY_AUTHUSER"], env["SECURITY_AUTHPASSWORD"]),
                                    (env["SECURITY_AUTHADMINUSER"], env["SECURITY_AUTHADMINPASSWORD"]))

    def ready(self):
        config, problem = self.container.current()
        if problem:
            self.reply(503, {"status": "DOWN", "details": problem, "standin": True})
            return None
        return config["env"]

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == PREFIX + "/management/health":
            env = self.ready()
            if env is None:
                return
            try:
                conn = self.container.connect(env)
                conn.close()
            except Exception as exc:
                down = {"status": "DOWN", "details": str(exc)}
                return self.reply(503, {"status": "DOWN", "components": {"db": down}})
            return self.reply(200, {"status": "UP", "components": {"db": {"status": "UP"}}, "standin": True})
        env = self.ready()
        if env is None:
            return
        if not self.authorised(env):
            return self.reply(401, {"error": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="EHRbase"'})
        if path == PREFIX + "/rest/status":
            conn = self.container.connect(env)
            with conn, conn.cursor() as cur:
                cur.execute("SHOW server_version")
                pg_version = cur.fetchone()[0]
            conn.close()
            return self.reply(200, {"ehrbase_version": "stand-in (not EHRbase)", "openehr_sdk_version": "n/a",
                                    "archie_version": "n/a", "jvm_version": "n/a",
                                    "os_version": sys.platform, "postgres_version": pg_version,
                                    "standin": True, "image": self.container.config["image"]})
        m = re.match(r"^%s/rest/openehr/v1/ehr/([0-9a-f-]{36})$" % PREFIX, path)
        if m:
            try:
                conn = self.container.connect(env)
                with conn, conn.cursor() as cur:
                    cur.execute("SELECT id, creation_date, system_id FROM ehr.ehr WHERE id = %s", (m.group(1),))
                    row = cur.fetchone()
                conn.close()
            except Exception as exc:
                return self.reply(500, {"error": "Internal Server Error", "message": str(exc)})
            if not row:
                return self.reply(404, {"error": "Not Found", "message": "No EHR with this ID can be found"})
            return self.reply(200, {"system_id": {"value": row[2]}, "ehr_id": {"value": str(row[0])},
                                    "time_created": {"value": row[1].isoformat()}},
                              {"ETag": '"%s"' % row[0]})
        return self.reply(404, {"error": "Not Found"})

    def insert(self, env, ehr_id):
        """Served as the restricted role, like EHRbase; migrate (again) if the database was recreated."""
        import psycopg2

        for attempt in (1, 2):
            # spring.flyway.ehr-strategy: VALIDATE (a warm standby's replica) never migrates; on a read-only database
            # the insert then fails as EHRbase's does, "cannot execute INSERT in a read-only transaction".
            if env.get("SPRING_FLYWAY_EHR_STRATEGY", "MIGRATE").upper() == "MIGRATE":
                self.container.migrate(env)
            conn = self.container.connect(env)
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("INSERT INTO ehr.ehr (id, system_id) VALUES (%s, %s) RETURNING creation_date",
                                (ehr_id, env.get("SERVER_NODENAME", "local.ehrbase.org")))
                    return cur.fetchone()[0]
            except psycopg2.errors.UndefinedTable:
                if attempt == 2:
                    raise
                self.container.migrated_for = None
            finally:
                conn.close()

    def do_POST(self):
        path = self.path.split("?")[0]
        env = self.ready()
        if env is None:
            return
        if not self.authorised(env):
            return self.reply(401, {"error": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="EHRbase"'})
        if path != PREFIX + "/rest/openehr/v1/ehr":
            return self.reply(404, {"error": "Not Found"})
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        ehr_id = str(uuid.uuid4())
        try:
            created = self.insert(env, ehr_id)
        except Exception as exc:
            return self.reply(500, {"error": "Internal Server Error", "message": str(exc).strip()})
        # Like Spring Boot: links from X-Forwarded-* only with a forwarded-headers strategy, else from the request.
        host, scheme = self.headers.get("Host", "localhost"), "http"
        if env.get("SERVER_FORWARDHEADERSSTRATEGY", "").lower() in ("framework", "native"):
            host = self.headers.get("X-Forwarded-Host", host)
            scheme = self.headers.get("X-Forwarded-Proto", scheme)
        headers = {"Location": "%s://%s%s/rest/openehr/v1/ehr/%s" % (scheme, host, PREFIX, ehr_id),
                   "ETag": '"%s"' % ehr_id}
        if "return=representation" in (self.headers.get("Prefer") or ""):
            return self.reply(201, {"ehr_id": {"value": ehr_id}, "time_created": {"value": created.isoformat()}},
                              headers)
        return self.reply(201, None, headers)


def main(argv):
    region = argv[0]
    Handler.container = Container(region)
    server = ThreadingHTTPServer(("127.0.0.1", port(region)), Handler)
    print("EHRbase STAND-IN (not EHRbase) for %s on 127.0.0.1:%d" % (region, port(region)), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
