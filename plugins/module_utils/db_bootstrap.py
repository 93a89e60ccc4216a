# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Bring a PostgreSQL server to the state EHRbase's createdb.sql describes.

Idempotent and RDS-safe: the login user is the RDS master, which is NOT a
superuser. Every step reads the catalog first and issues its statement only
when the state differs; nothing is ever dropped or rewritten.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import psycopg2
    from psycopg2 import errors as pg_errors
    from psycopg2 import sql

    HAS_PSYCOPG2 = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_PSYCOPG2 = False

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MASK = "********"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# createdb.sql grants only SELECT on sequences, but nextval() needs USAGE: without
# it the app role cannot insert into a table with a serial/identity column.
SEQUENCE_PRIVILEGES = ("SELECT", "USAGE")
SETTINGS = {"search_path": "ext", "intervalstyle": "iso_8601"}


class BootstrapError(Exception):
    """A failure with a message an operator can act on."""


def connection_error(exc, host, port, user, timeout):
    """Turn psycopg2's connect error into what failed and what to do."""
    text = str(exc).strip()
    low = text.lower()
    if "password authentication failed" in low or "authentication failed" in low:
        return ("PostgreSQL at %s:%s rejected the password of user %r. Check that the password comes from the "
                "right Secrets Manager secret (region, name) and that nobody changed it outside Ansible."
                % (host, port, user))
    if "no pg_hba.conf entry" in low:
        return ("PostgreSQL at %s:%s does not accept user %r from this address (pg_hba / SSL). On RDS use "
                "ssl_mode=require; locally check the server's pg_hba.conf. Server said: %s" % (host, port, user, text))
    if "timeout expired" in low or "connection refused" in low or "could not connect" in low \
            or "could not translate host name" in low or "no route to host" in low:
        return ("Cannot reach PostgreSQL at %s:%s within %s s (%s). An RDS instance is private: run this from "
                "inside the VPC (an AWX execution node there), over a VPN, or through a port-forward you open "
                "(SSM/SSH) and point db_init_host/db_init_port at it. Also check the RDS security group allows "
                "this source on 5432." % (host, port, timeout, text.splitlines()[0] if text else "no answer"))
    if "database" in low and "does not exist" in low:
        return "PostgreSQL at %s:%s: %s" % (host, port, text)
    if "ssl" in low:
        return ("TLS negotiation with PostgreSQL at %s:%s failed: %s. RDS forces SSL (rds.force_ssl=1): use "
                "ssl_mode=require or verify-full with the RDS CA bundle in ssl_rootcert." % (host, port, text))
    return "Cannot connect to PostgreSQL at %s:%s as %r: %s" % (host, port, user, text)


class Bootstrap:
    """One run of the bootstrap. `run()` returns (changed, result dict)."""

    def __init__(self, params, check_mode=False, warn=None):
        self.p = params
        self.check_mode = check_mode
        self.queries = []
        self.warnings = []
        self._warn = warn or self.warnings.append
        self.changed = False
        for key in ("database", "owner_role", "app_role"):
            if not IDENTIFIER.match(params[key] or ""):
                raise BootstrapError(
                    "%s=%r is not a safe PostgreSQL identifier (rule: lower-case letters, digits and _, starting "
                    "with a letter or _, at most 63 characters). Fix: use e.g. ehrbase." % (key, params[key]))
        if params["owner_role"] == params["app_role"]:
            raise BootstrapError("owner_role and app_role are both %r; EHRbase needs two roles (the app role "
                                 "must not own the schema). Fix: use ehrbase and ehrbase_restricted."
                                 % params["owner_role"])

    # -- connections ---------------------------------------------------------

    def connect(self, dbname, user=None, password=None):
        p = self.p
        kwargs = dict(host=p["login_host"], port=p["login_port"], dbname=dbname,
                      user=user or p["login_user"], password=password or p["login_password"],
                      connect_timeout=p["connect_timeout"], sslmode=p["ssl_mode"],
                      application_name="medzen.ehrbase.ehrbase_db_bootstrap")
        if p.get("ssl_rootcert"):
            kwargs["sslrootcert"] = p["ssl_rootcert"]
        try:
            conn = psycopg2.connect(**kwargs)
        except psycopg2.OperationalError as exc:
            raise BootstrapError(connection_error(exc, p["login_host"], p["login_port"], kwargs["user"],
                                                  p["connect_timeout"]))
        conn.autocommit = True
        return conn

    def can_login(self, role, password):
        """True/False when the password works or is rejected; None when it cannot be told."""
        try:
            conn = self.connect(self.p["login_db"], user=role, password=password)
        except BootstrapError as exc:
            if "rejected the password" in str(exc):
                return False
            self._warn("Could not verify the password of role %s (%s); leaving it as it is." % (role, exc))
            return None
        conn.close()
        return True

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def one(cur, query, args=()):
        cur.execute(query, args)
        row = cur.fetchone()
        return row[0] if row else None

    def execute(self, cur, statement, args=(), display=None, needs=None):
        """Record a statement (passwords masked) and run it unless in check mode."""
        text = display or statement.as_string(cur)
        self.queries.append(text)
        self.changed = True
        if self.check_mode:
            return
        try:
            cur.execute(statement, args)
        except pg_errors.InsufficientPrivilege as exc:
            raise BootstrapError(
                "Statement `%s` failed for lack of privilege: %s. %s" % (
                    text, str(exc).strip(), needs or "The login user needs the rights of the RDS master "
                    "(CREATEROLE, CREATEDB and membership in %s)." % self.p["owner_role"]))
        except psycopg2.Error as exc:
            raise BootstrapError("Statement `%s` failed: %s" % (text, str(exc).strip()))

    # -- state ---------------------------------------------------------------

    def server_state(self, cur):
        p = self.p
        state = {"roles": {}, "database": None}
        for role in (p["owner_role"], p["app_role"]):
            cur.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,))
            row = cur.fetchone()
            state["roles"][role] = {"exists": bool(row), "login": bool(row and row[0])}
        cur.execute("SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, oid "
                    "FROM pg_database WHERE datname = %s", (p["database"],))
        row = cur.fetchone()
        if row:
            cur.execute("SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = %s AND setrole = 0", (row[3],))
            conf = cur.fetchone()
            # PostgreSQL stores canonical names (IntervalStyle); compare case-insensitively.
            settings = dict((k.lower(), v) for k, v in (item.split("=", 1) for item in (conf[0] if conf else []) or []))
            state["database"] = {"owner": row[0], "encoding": row[1], "collate": row[2], "settings": settings}
        state["master_in_owner"] = bool(
            state["roles"][p["owner_role"]]["exists"]
            and self.one(cur, "SELECT pg_has_role(current_user, %s, 'MEMBER')", (p["owner_role"],)))
        return state

    def database_state(self, cur):
        p = self.p
        state = {"schemas": {}, "extension_schema": None, "default_privileges": {}, "public_create": None}
        for schema in ("ehr", "ext"):
            owner = self.one(cur, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (schema,))
            usage = owner is not None and self.one(
                cur, "SELECT has_schema_privilege(%s, %s, 'USAGE')", (p["app_role"], schema))
            state["schemas"][schema] = {"owner": owner, "app_usage": bool(usage)}
        state["extension_schema"] = self.one(
            cur, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                 "WHERE e.extname = 'uuid-ossp'")
        state["public_create"] = bool(self.one(
            cur, "SELECT count(*) FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
                 "WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE'"))
        for objtype, label in (("r", "tables"), ("S", "sequences")):
            cur.execute(
                "SELECT a.privilege_type FROM pg_default_acl d "
                "JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a "
                "WHERE d.defaclrole = %s::regrole AND n.nspname = 'ehr' AND d.defaclobjtype = %s "
                "AND a.grantee = %s::regrole",
                (p["owner_role"], objtype, p["app_role"]))
            state["default_privileges"][label] = sorted(r[0] for r in cur.fetchall())
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'ehr' AND c.relkind IN ('r', 'p') AND NOT ("
            "has_table_privilege(%s, c.oid, 'SELECT') AND has_table_privilege(%s, c.oid, 'INSERT') AND "
            "has_table_privilege(%s, c.oid, 'UPDATE') AND has_table_privilege(%s, c.oid, 'DELETE'))",
            (p["app_role"],) * 4)
        state["tables_without_app_grants"] = sorted(r[0] for r in cur.fetchall())
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'ehr' AND CASE WHEN c.relkind = 'S' "
            "THEN NOT (has_sequence_privilege(%s, c.oid, 'SELECT') AND has_sequence_privilege(%s, c.oid, 'USAGE')) "
            "ELSE false END",
            (p["app_role"],) * 2)
        state["sequences_without_app_grants"] = sorted(r[0] for r in cur.fetchall())
        return state

    # -- steps ---------------------------------------------------------------

    def ensure_roles(self, cur, state):
        p = self.p
        for role, password in ((p["owner_role"], p["owner_password"]), (p["app_role"], p["app_password"])):
            ident = sql.Identifier(role)
            if not state["roles"][role]["exists"]:
                self.execute(cur, sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD %s").format(ident), (password,),
                             display="CREATE ROLE %s WITH LOGIN PASSWORD '%s'" % (role, MASK),
                             needs="The login user needs CREATEROLE (the RDS master has it).")
                continue
            if not state["roles"][role]["login"]:
                self.execute(cur, sql.SQL("ALTER ROLE {} WITH LOGIN").format(ident))
            if self.can_login(role, password) is False:
                self.execute(cur, sql.SQL("ALTER ROLE {} WITH PASSWORD %s").format(ident), (password,),
                             display="ALTER ROLE %s WITH PASSWORD '%s'" % (role, MASK),
                             needs="The login user needs CREATEROLE and ADMIN OPTION on %s (PostgreSQL 16: the "
                                   "creator of a role has it)." % role)

    def ensure_membership(self, cur, state):
        # RDS: the master is not a superuser; to create objects owned by the
        # owner role (and to manage its default privileges) it must be a member.
        if not state["master_in_owner"]:
            owner = self.p["owner_role"]
            self.execute(cur, sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(owner)),
                         needs="The login user needs ADMIN OPTION on role %s; on RDS, create the role as the "
                               "master (this module does) or run `GRANT %s TO <master>` as its creator."
                               % (owner, owner))

    def ensure_database(self, cur, state):
        p = self.p
        db, owner = sql.Identifier(p["database"]), sql.Identifier(p["owner_role"])
        current = state["database"]
        if current is None:
            self.execute(cur, sql.SQL("CREATE DATABASE {} WITH OWNER {} ENCODING 'UTF8' LOCALE 'C' "
                                      "TEMPLATE template0").format(db, owner),
                         needs="The login user needs CREATEDB (the RDS master has it).")
            current = {"owner": p["owner_role"], "encoding": "UTF8", "collate": "C", "settings": {}}
        else:
            if current["encoding"] != "UTF8":
                raise BootstrapError(
                    "Database %s exists with encoding %s; EHRbase needs UTF8. It cannot be converted in place and "
                    "this module never drops data. Fix: dump it, create a UTF8 database (LOCALE C, template0) and "
                    "restore, or point `database` at another name." % (p["database"], current["encoding"]))
            if current["owner"] != p["owner_role"]:
                self.execute(cur, sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner))
        for name, value in SETTINGS.items():
            if current["settings"].get(name) != value:
                self.execute(cur, sql.SQL("ALTER DATABASE {} SET {} TO {}").format(
                    db, sql.SQL(name), sql.Literal(value)))
        # A new database lets PUBLIC connect; an existing one may have had that revoked.
        if state["database"] and state["roles"][p["app_role"]]["exists"] and not self.one(
                cur, "SELECT has_database_privilege(%s, %s, 'CONNECT')", (p["app_role"], p["database"])):
            self.execute(cur, sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(p["app_role"])))

    def ensure_inside(self, cur, state):
        p = self.p
        owner, app = sql.Identifier(p["owner_role"]), sql.Identifier(p["app_role"])
        if state["public_create"]:
            self.execute(cur, sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for schema in ("ehr", "ext"):
            current = state["schemas"][schema]
            ident = sql.Identifier(schema)
            if current["owner"] is None:
                self.execute(cur, sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(ident, owner))
            elif current["owner"] != p["owner_role"]:
                self.execute(cur, sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(ident, owner))
            if not current["app_usage"]:
                self.execute(cur, sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, app))
        if state["extension_schema"] is None:
            self.execute(cur, sql.SQL('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" SCHEMA ext'),
                         needs="uuid-ossp must be allowed (it is on RDS and is a trusted extension) and the login "
                               "user needs CREATE on the database (membership in the owner role gives it).")
        elif state["extension_schema"] != "ext":
            self._warn('Extension "uuid-ossp" is installed in schema %s, not ext; left as it is (moving it could '
                       'break objects that use it).' % state["extension_schema"])
        wanted = {"tables": list(TABLE_PRIVILEGES), "sequences": list(SEQUENCE_PRIVILEGES)}
        for label, privileges in wanted.items():
            if not set(privileges) <= set(state["default_privileges"][label]):
                self.execute(cur, sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA ehr GRANT {} ON {} TO {}").format(
                    owner, sql.SQL(", ".join(privileges)), sql.SQL(label.upper()), app))
        # Tables Flyway created before the default privileges existed (the old
        # guide's bug): grant on them too. Grants only; no data is touched.
        if state["tables_without_app_grants"]:
            self.execute(cur, sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA ehr TO {}").format(
                sql.SQL(", ".join(TABLE_PRIVILEGES)), app))
        if state["sequences_without_app_grants"]:
            self.execute(cur, sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA ehr TO {}").format(
                sql.SQL(", ".join(SEQUENCE_PRIVILEGES)), app))

    def optimise_jsonb_path_query(self, cur):
        """Optional: EHRbase's AQL planner hint. On RDS the function belongs to rdsadmin: skip with a warning."""
        signature = "jsonb_path_query(jsonb, jsonpath, jsonb, boolean)"
        cur.execute("SELECT prorows, pg_has_role(current_user, proowner, 'USAGE'), pg_get_userbyid(proowner) "
                    "FROM pg_proc WHERE oid = %s::regprocedure", (signature,))
        rows, can_alter, owner = cur.fetchone()
        if rows == 1:
            return
        if not can_alter:
            self._warn("Skipped optional `ALTER FUNCTION %s ROWS 1`: the function belongs to %s and the login user "
                       "is not a member (normal on RDS, where rdsadmin owns it). EHRbase works without it; AQL "
                       "queries using jsonb_path_query may get less precise plans." % (signature, owner))
            return
        self.execute(cur, sql.SQL("ALTER FUNCTION " + signature + " ROWS 1"))

    # -- run -----------------------------------------------------------------

    def run(self):
        p = self.p
        conn = self.connect(p["login_db"])
        try:
            with conn.cursor() as cur:
                rights = self.one(cur, "SELECT rolcreaterole AND rolcreatedb OR rolsuper FROM pg_roles "
                                       "WHERE rolname = current_user")
                if not rights:
                    raise BootstrapError(
                        "Login user %r lacks CREATEROLE/CREATEDB. Fix: log in as the RDS master user (the db-master "
                        "secret), not the EHRbase roles." % p["login_user"])
                before = self.server_state(cur)
                self.ensure_roles(cur, before)
                self.ensure_membership(cur, before)
                self.ensure_database(cur, before)
                after = None if self.check_mode else self.server_state(cur)
        finally:
            conn.close()

        before["inside"] = None
        if before["database"] is None and self.check_mode:
            # Nothing to read yet: everything inside the new database would be created.
            self.queries.append("-- then, inside the new database %s: schemas ehr and ext, uuid-ossp, grants, "
                                "default privileges" % p["database"])
            return self.result(before, None)
        conn = self.connect(p["database"])
        try:
            with conn.cursor() as cur:
                before["inside"] = self.database_state(cur)
                self.ensure_inside(cur, before["inside"])
                if p["optimise_jsonb_path_query"]:
                    self.optimise_jsonb_path_query(cur)
                if after is not None:
                    after["inside"] = self.database_state(cur)
        finally:
            conn.close()
        return self.result(before, after)

    def result(self, before, after):
        """after is None in check mode: the diff then shows the statements that would run."""
        return self.changed, {
            "queries": self.queries,
            "state": after if after is not None else before,
            "diff": {"before": before, "after": after if after is not None else dict(before, planned=self.queries)},
        }
