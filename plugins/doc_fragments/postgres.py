# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by the modules that talk to PostgreSQL.
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host of the PostgreSQL server (the RDS endpoint, or a port-forward / VPN address that reaches it).
    type: str
    required: true
  login_port:
    description: Port of the PostgreSQL server.
    type: int
    default: 5432
  login_user:
    description: Login user; on RDS the master user (not a superuser).
    type: str
    required: true
  login_password:
    description: Password of O(login_user). Never logged.
    type: str
    required: true
  login_db:
    description: Maintenance database to connect to first.
    type: str
    default: postgres
  connect_timeout:
    description: Seconds to wait for the connection before failing with a network-path hint.
    type: int
    default: 10
  ssl_mode:
    description:
      - libpq sslmode. RDS forces SSL (C(rds.force_ssl=1)); use V(verify-full) with the RDS CA bundle in O(ssl_rootcert) for full verification.
    type: str
    default: require
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ssl_rootcert:
    description: CA bundle file for V(verify-ca) / V(verify-full).
    type: path
requirements:
  - psycopg2 (psycopg2-binary)
"""
