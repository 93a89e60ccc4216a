#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_db_bootstrap
short_description: Prepare a PostgreSQL (RDS) server for EHRbase, idempotently and without superuser
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Brings a PostgreSQL server to the state EHRbase's own C(createdb.sql) describes - database (UTF-8, LOCALE C,
    template0) owned by the owner role, the owner role (used by Flyway) and the restricted app role, schemas
    C(ehr) and C(ext) owned by the owner, C(uuid-ossp) in C(ext), C(REVOKE CREATE ON SCHEMA public FROM PUBLIC),
    USAGE on both schemas for the app role, default privileges C(FOR ROLE) the owner in C(ehr) (tables -
    SELECT/INSERT/UPDATE/DELETE, sequences - SELECT and USAGE) for the app role, and the database settings
    C(search_path=ext) and C(intervalstyle=iso_8601).
  - Works as the RDS master user, which is B(not) a superuser - it grants itself membership in the owner role
    where PostgreSQL requires it, and skips the optional C(ALTER FUNCTION jsonb_path_query ... ROWS 1)
    (owned by rdsadmin on RDS) with a warning instead of failing.
  - Every step reads the catalog first and runs its statement only when needed. It never drops or rewrites
    anything; tables that already exist in C(ehr) without the app role's grants get them (grants only).
  - A changed password (rotated secret) is detected by trying to log in as the role, and applied with
    C(ALTER ROLE ... PASSWORD).
  - Why a custom module - community.postgresql can create roles, databases, schemas and privileges, but it
    needs one task per object (about 15 tasks and connections per region), cannot express C(ALTER DEFAULT
    PRIVILEGES FOR ROLE) as the non-superuser master, and cannot do the membership and rdsadmin handling above.
extends_documentation_fragment:
  - medzen.ehrbase.postgres
options:
  database:
    description: Database EHRbase uses.
    type: str
    default: ehrbase
  owner_role:
    description: Owner role; EHRbase's Flyway migrations run as this role (C(DB_USER_ADMIN)).
    type: str
    default: ehrbase
  owner_password:
    description: Password of O(owner_role). Never logged.
    type: str
    required: true
  app_role:
    description: Restricted role EHRbase serves requests with (C(DB_USER)).
    type: str
    default: ehrbase_restricted
  app_password:
    description: Password of O(app_role). Never logged.
    type: str
    required: true
  optimise_jsonb_path_query:
    description:
      - Try C(ALTER FUNCTION jsonb_path_query(jsonb, jsonpath, jsonb, boolean) ROWS 1) (an AQL planner hint).
        Skipped with a warning when the login user does not own the function (always on RDS).
    type: bool
    default: true
notes:
  - Supports check mode (reads only and returns the statements that would run) and diff mode (catalog state
    before and after).
  - Sequences get USAGE as well as the SELECT of createdb.sql - C(nextval()) needs it, so without it the app role
    could not insert into any table with a serial or identity column.
  - Identifiers must match C(^[a-z_][a-z0-9_]{0,62}$); they are quoted with psycopg2's C(sql.Identifier) and all
    values are passed as query parameters.
seealso:
  - name: EHRbase createdb.sql
    description: The upstream script this module makes idempotent and RDS-safe.
    link: https://github.com/ehrbase/ehrbase/blob/develop/base/db-setup/createdb.sql
"""

EXAMPLES = r"""
- name: Bootstrap the EHRbase database on RDS (through a port-forward on localhost:15432)
  medzen.ehrbase.ehrbase_db_bootstrap:
    login_host: 127.0.0.1
    login_port: 15432
    login_user: ehrbase_master
    login_password: "{{ master.password }}"
    owner_password: "{{ owner.password }}"
    app_password: "{{ app.password }}"
  no_log: true

- name: See what would change, without changing anything
  medzen.ehrbase.ehrbase_db_bootstrap:
    login_host: "{{ rds_outputs.endpoint }}"
    login_user: ehrbase_master
    login_password: "{{ master.password }}"
    owner_password: "{{ owner.password }}"
    app_password: "{{ app.password }}"
  check_mode: true
  diff: true
  no_log: true
"""

RETURN = r"""
queries:
  description: Statements executed (or, in check mode, that would be executed); passwords masked.
  returned: always
  type: list
  elements: str
  sample: ["CREATE ROLE ehrbase WITH LOGIN PASSWORD '********'", "GRANT \"ehrbase\" TO CURRENT_USER"]
state:
  description: Catalog state after the run (before it, in check mode) - roles, database owner/encoding/settings,
    schemas, extension schema, default privileges, tables lacking app grants.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.medzen.ehrbase.plugins.module_utils.db_bootstrap import (
    HAS_PSYCOPG2,
    Bootstrap,
    BootstrapError,
)

ARGUMENT_SPEC = dict(
    login_host=dict(type="str", required=True),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str", required=True),
    login_password=dict(type="str", required=True, no_log=True),
    login_db=dict(type="str", default="postgres"),
    connect_timeout=dict(type="int", default=10),
    ssl_mode=dict(type="str", default="require",
                  choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    ssl_rootcert=dict(type="path"),
    database=dict(type="str", default="ehrbase"),
    owner_role=dict(type="str", default="ehrbase"),
    owner_password=dict(type="str", required=True, no_log=True),
    app_role=dict(type="str", default="ehrbase_restricted"),
    app_password=dict(type="str", required=True, no_log=True),
    optimise_jsonb_path_query=dict(type="bool", default=True),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2 (pip install psycopg2-binary)"))
    try:
        changed, result = Bootstrap(module.params, check_mode=module.check_mode, warn=module.warn).run()
    except BootstrapError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
