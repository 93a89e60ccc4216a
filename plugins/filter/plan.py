# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Filters for validating a deployment plan and naming its resources."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os

import yaml

from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import creation_plan
from ansible_collections.medzen.ehrbase.plugins.module_utils.names import (
    global_names,
    primary_region,
    region_short,
    resource_names,
    subnet_layout,
    subnets_by_az,
)
from ansible_collections.medzen.ehrbase.plugins.module_utils.plan import validate_plan

# Host variables the plan validator reads for every region.
PLAN_VARIABLES = (
    "ehrbase_project",
    "ehrbase_environment",
    "ehrbase_domain",
    "ehrbase_zone_name",
    "ehrbase_prod_overrides",
    "ehrbase_region_role",
    "ehrbase_name_prefix",
    "network_vpc_cidr",
    "network_public_subnets",
    "network_private_subnets",
    "network_rds_admin_cidrs",
    "rds_engine_version",
    "rds_storage_type",
    "rds_iops",
    "rds_multi_az",
    "rds_deletion_protection",
    "rds_master_username",
    "rds_instance_class",
    "rds_allocated_storage",
    "rds_backup_retention_days",
    "rds_password_length",
    "rds_backup_copy_region",
    "ehrbase_backup_partner",
    "ehrbase_standby",
    "ecs_ehrbase_version",
    "ecs_task_cpu",
    "ecs_task_memory",
    "ecs_min_count",
    "ecs_desired_count",
    "ecs_max_count",
    "ecs_health_check_grace_period",
    "ecs_cpu_target",
    "ecs_memory_target",
    "ecs_log_retention_days",
    "ecs_ssl_policy",
    # Read by plan_roles.py: values AWS or EHRbase reject only when a later play reaches them.
    "ehrbase_tags",
    "ecs_ehrbase_image",
    "ecs_extra_environment",
    "ecs_release_poll_delay",
    "ecs_certificate_validation_zone",
    "rds_wait_delay",
    "route53_domain",
    "route53_zone_name",
    "route53_health_check_path",
    "route53_health_check_interval",
    "route53_health_check_failure_threshold",
    "monitoring_period",
    "monitoring_evaluation_periods",
    "monitoring_datapoints_to_alarm",
    "monitoring_alarm_emails",
    "monitoring_budget_emails",
    "monitoring_budget_amount",
    "monitoring_budget_notifications",
)


def plan_errors(hostvars, regions):
    """Validate every region's plan; `regions` are inventory hosts, each one a region."""
    plans = {}
    for host in regions:
        hv = hostvars[host]
        region = hv.get("ehrbase_region", host)
        plans[region] = {name: hv.get(name) for name in PLAN_VARIABLES}
    return validate_plan(plans)


# Variable name prefixes of this collection's roles and playbooks: only these are checked for typos.
OWN_PREFIXES = ("ehrbase_", "network_", "rds_", "db_init_", "ecs_", "route53_", "monitoring_", "teardown_",
                "preflight_", "verify_", "drill_", "rollback_", "report_", "maintenance_", "cost_", "upgrade_", "recover_")


def role_option_names(role, roles_dir):
    """Every option of every entry point of `role` (its meta/argument_specs.yml under `roles_dir`)."""
    path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        specs = yaml.safe_load(fh).get("argument_specs") or {}
    return sorted(set(name for entry in specs.values() for name in (entry.get("options") or {})))


def plan_typos(names, known):
    """Variables of ours (by prefix) that no role or playbook reads but that look like one that does:
    ['network_vpc_cdir looks like a typo of network_vpc_cidr', ...]."""
    known = set(known)
    out = []
    for name in sorted(set(names)):
        if name in known or not name.startswith(OWN_PREFIXES):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if close:
            out.append("%s looks like a typo of %s (no role reads %s; it has no effect)" % (name, close[0], name))
    return out


def argspec_types_only(options):
    """An argument spec's options without their defaults (recursively).

    Preflight checks only what the inventory provides; the roles' own defaults are
    Jinja expressions that only make sense inside the role.
    """
    out = {}
    for name, spec in (options or {}).items():
        spec = {k: v for k, v in spec.items() if k != "default"}
        if "options" in spec:
            spec["options"] = argspec_types_only(spec["options"])
        out[name] = spec
    return out


class FilterModule(object):
    def filters(self):
        return {
            "argspec_types_only": argspec_types_only,
            "creation_plan": creation_plan,
            "plan_errors": plan_errors,
            "plan_typos": plan_typos,
            "primary_region": primary_region,
            "role_option_names": role_option_names,
            "global_names": global_names,
            "region_short": region_short,
            "resource_names": resource_names,
            "subnet_layout": subnet_layout,
            "subnets_by_az": subnets_by_az,
        }
