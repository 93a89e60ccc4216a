"""ehrbase_db_bootstrap against a real PostgreSQL whose login user is NOT a superuser (as on RDS).

Each test gets its own master, database and role names, so tests never see each other's state.
"""

import json
import os
import secrets
import subprocess
import sys

import psycopg2
import pytest

from helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "local"))
import pg  # noqa: E402  (local/pg.py: where the test PostgreSQL runs)

from ansible_collections.medzen.ehrbase.plugins.module_utils.db_bootstrap import (  # noqa: E402
    Bootstrap,
    BootstrapError,
)

REGION = "eu-west-1"


def superuser():
    conn = psycopg2.connect(host=pg.socket_dir(REGION), port=pg.port(REGION), user="postgres", dbname="postgres")
    conn.autocommit = True
    return conn


@pytest.fixture
def server():
    """A fresh RDS-like master (CREATEDB CREATEROLE, not SUPERUSER) and names for this test."""
    tag = secrets.token_hex(4)
    names = {
        "master": "master_" + tag, "master_password": secrets.token_urlsafe(24),
        "database": "ehrbase_" + tag, "owner_role": "owner_" + tag, "app_role": "app_" + tag,
        "owner_password": secrets.token_urlsafe(24), "app_password": secrets.token_urlsafe(24),
    }
    su = superuser()
    with su.cursor() as cur:
        cur.execute('CREATE ROLE "%s" LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD %%s' % names["master"],
                    (names["master_password"],))
    yield names
    with su.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % names["database"])
        for role in ("app_role", "owner_role", "master"):
            cur.execute('DROP ROLE IF EXISTS "%s"' % names[role])
    su.close()


def params(names, **over):
    p = dict(login_host="127.0.0.1", login_port=pg.port(REGION), login_user=names["master"],
             login_password=names["master_password"], login_db="postgres", connect_timeout=3,
             ssl_mode="disable", ssl_rootcert=None, database=names["database"], owner_role=names["owner_role"],
             owner_password=names["owner_password"], app_role=names["app_role"],
             app_password=names["app_password"], optimise_jsonb_path_query=True)
    p.update(over)
    return p


def bootstrap(names, check_mode=False, **over):
    warnings = []
    changed, result = Bootstrap(params(names, **over), check_mode=check_mode, warn=warnings.append).run()
    return changed, result, warnings


def connect_as(names, role, password=None):
    conn = psycopg2.connect(host="127.0.0.1", port=pg.port(REGION), dbname=names["database"], user=names[role],
                            password=password or names[role.replace("_role", "_password")])
    conn.autocommit = True
    return conn


def check_bootstrapped_state(state, owner):
    assert state["database"]["owner"] == owner
    assert state["database"]["encoding"] == "UTF8" and state["database"]["collate"] == "C"
    assert state["database"]["settings"] == {"search_path": "ext", "intervalstyle": "iso_8601"}
    assert state["inside"]["schemas"]["ehr"] == {"owner": owner, "app_usage": True}
    assert state["inside"]["schemas"]["ext"] == {"owner": owner, "app_usage": True}
    assert state["inside"]["extension_schema"] == "ext"
    assert state["inside"]["public_create"] is False
    assert state["inside"]["default_privileges"]["tables"] == ["DELETE", "INSERT", "SELECT", "UPDATE"]
    assert state["inside"]["default_privileges"]["sequences"] == ["SELECT", "USAGE"]


def test_fresh_bootstrap_builds_everything(server):
    changed, result, warnings = bootstrap(server)
    assert changed
    check_bootstrapped_state(result["state"], server["owner_role"])
    # The rdsadmin-owned optimisation is skipped with a warning, not a failure.
    assert any("jsonb_path_query" in w and "Skipped" in w for w in warnings)
    # Passwords never appear in the returned statements.
    text = json.dumps(result)
    for key in ("owner_password", "app_password", "master_password"):
        assert server[key] not in text
    assert any("PASSWORD '********'" in q for q in result["queries"])
    # The master is still not a superuser.
    with superuser().cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (server["master"],))
        assert cur.fetchone()[0] is False


def test_second_run_changes_nothing(server):
    bootstrap(server)
    changed, result, dummy = bootstrap(server)
    assert not changed, result["queries"]
    assert result["queries"] == []


def test_check_mode_predicts_and_changes_nothing(server):
    changed, result, dummy = bootstrap(server, check_mode=True)
    assert changed
    assert any(q.startswith("CREATE DATABASE") for q in result["queries"])
    with superuser().cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (server["database"],))
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", (server["owner_role"], server["app_role"]))
        assert cur.fetchone()[0] == 0
    # On a bootstrapped server, check mode reports no change.
    bootstrap(server)
    changed, result, dummy = bootstrap(server, check_mode=True)
    assert not changed, result["queries"]


def test_check_mode_after_partial_damage_lists_the_fix(server):
    bootstrap(server)
    with connect_as(server, "owner_role") as conn, conn.cursor() as cur:
        cur.execute("REVOKE USAGE ON SCHEMA ext FROM %s" % server["app_role"])
    changed, result, dummy = bootstrap(server, check_mode=True)
    assert changed and result["queries"] == ['GRANT USAGE ON SCHEMA "ext" TO "%s"' % server["app_role"]]
    assert result["diff"]["before"]["inside"]["schemas"]["ext"]["app_usage"] is False


def test_app_role_can_use_tables_the_owner_creates(server):
    """What Flyway does: the owner creates tables; EHRbase then serves as the restricted role."""
    bootstrap(server)
    with connect_as(server, "owner_role") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ehr.ehr (id uuid PRIMARY KEY DEFAULT ext.uuid_generate_v4(), n serial)")
    with connect_as(server, "app_role") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ehr.ehr DEFAULT VALUES RETURNING id")
        ehr_id = cur.fetchone()[0]
        cur.execute("UPDATE ehr.ehr SET n = n WHERE id = %s", (ehr_id,))
        cur.execute("SELECT count(*) FROM ehr.ehr")
        assert cur.fetchone()[0] == 1
        cur.execute("DELETE FROM ehr.ehr WHERE id = %s", (ehr_id,))
        # The app role cannot create objects (least privilege).
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE TABLE ehr.evil (x int)")
    # A table created later is covered too (default privileges), and a re-run changes nothing.
    with connect_as(server, "owner_role") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ehr.composition (id serial PRIMARY KEY, body text)")
    with connect_as(server, "app_role") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ehr.composition (body) VALUES ('x')")
    assert bootstrap(server)[0] is False


def test_rows_written_before_a_rerun_are_all_there(server):
    bootstrap(server)
    with connect_as(server, "owner_role") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ehr.ehr (id serial PRIMARY KEY, note text)")
    with connect_as(server, "app_role") as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO ehr.ehr (note) VALUES (%s)", [("r%d" % i,) for i in range(50)])
    # Rotate a password and re-run: still no data touched.
    bootstrap(server, app_password="rotated-" + secrets.token_hex(16))
    with connect_as(server, "owner_role") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(note), max(id) FROM ehr.ehr")
        assert cur.fetchone() == (50, "r0", 50)


def test_tables_created_before_the_grants_are_repaired(server):
    """The old guide's bug: Flyway ran before the default privileges existed."""
    bootstrap(server)
    with connect_as(server, "owner_role") as conn, conn.cursor() as cur:
        cur.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA ehr REVOKE ALL ON TABLES FROM %s" % server["app_role"])
        cur.execute("CREATE TABLE ehr.early (id int)")
    changed, result, dummy = bootstrap(server)
    assert changed
    assert any("ON ALL TABLES IN SCHEMA ehr" in q for q in result["queries"])
    with connect_as(server, "app_role") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ehr.early VALUES (1)")


def test_password_rotation_updates_and_reports_changed(server):
    bootstrap(server)
    new = "rotated" + secrets.token_hex(16)
    changed, result, dummy = bootstrap(server, owner_password=new)
    assert changed
    assert result["queries"] == ["ALTER ROLE %s WITH PASSWORD '********'" % server["owner_role"]]
    assert new not in json.dumps(result)
    connect_as(server, "owner_role", password=new).close()
    with pytest.raises(psycopg2.OperationalError):
        connect_as(server, "owner_role")
    assert bootstrap(server, owner_password=new)[0] is False


def test_wrong_master_password(server):
    with pytest.raises(BootstrapError, match="rejected the password of user 'master_"):
        bootstrap(server, login_password="wrong")


def test_unreachable_port(server):
    with pytest.raises(BootstrapError) as err:
        bootstrap(server, login_port=1, connect_timeout=2)
    msg = str(err.value)
    assert "Cannot reach PostgreSQL at 127.0.0.1:1 within 2 s" in msg
    assert "inside the VPC" in msg and "port-forward" in msg


@pytest.mark.parametrize("field,value", [("database", "ehr base"), ("owner_role", 'x"; DROP TABLE y; --'),
                                         ("app_role", "Restricted")])
def test_invalid_identifier(server, field, value):
    with pytest.raises(BootstrapError, match="%s=.*is not a safe PostgreSQL identifier" % field):
        bootstrap(server, **{field: value})


def test_login_user_without_rights(server):
    bootstrap(server)
    with pytest.raises(BootstrapError, match="lacks CREATEROLE/CREATEDB"):
        bootstrap(server, login_user=server["app_role"], login_password=server["app_password"])


def test_module_through_ansible_check_diff_and_no_secret_in_output(server):
    """main(): check mode + diff via ansible, then a real run; the output never holds a password."""
    args = params(server)
    args = {k: v for k, v in args.items() if v is not None}
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    base = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", "localhost,",
            "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
            "-m", "medzen.ehrbase.ehrbase_db_bootstrap", "-a", json.dumps(args)]
    out = subprocess.run(base + ["--check", "--diff", "-vvv"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CHANGED" in out.stdout and "CREATE DATABASE" in out.stdout
    real = subprocess.run(base + ["-vvv"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert real.returncode == 0 and "CHANGED" in real.stdout, real.stdout
    again = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and "SUCCESS" in again.stdout, again.stdout
    for text in (out.stdout + out.stderr, real.stdout + real.stderr):
        for key in ("owner_password", "app_password", "master_password"):
            assert server[key] not in text
