# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Filters for validating a deployment plan and naming its resources."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.medzen.ehrbase.plugins.module_utils.plan import (
    global_names,
    region_short,
    resource_names,
    subnet_layout,
    subnets_by_az,
    validate_plan,
)

# Host variables the plan validator reads for every region.
PLAN_VARIABLES = (
    "ehrbase_project",
    "ehrbase_environment",
    "ehrbase_domain",
    "ehrbase_region_role",
    "ehrbase_name_prefix",
    "network_vpc_cidr",
    "network_public_subnets",
    "network_private_subnets",
    "network_rds_admin_cidrs",
    "rds_engine_version",
    "rds_instance_class",
    "rds_allocated_storage",
    "rds_backup_retention_days",
    "rds_password_length",
    "ecs_ehrbase_version",
    "ecs_task_cpu",
    "ecs_task_memory",
    "ecs_min_count",
    "ecs_desired_count",
    "ecs_max_count",
    "ecs_health_check_grace_period",
)


def plan_errors(hostvars, regions):
    """Validate every region's plan; `regions` are inventory hosts, each one a region."""
    plans = {}
    for host in regions:
        hv = hostvars[host]
        region = hv.get("ehrbase_region", host)
        plans[region] = {name: hv.get(name) for name in PLAN_VARIABLES}
    return validate_plan(plans)


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
            "plan_errors": plan_errors,
            "global_names": global_names,
            "region_short": region_short,
            "resource_names": resource_names,
            "subnet_layout": subnet_layout,
            "subnets_by_az": subnets_by_az,
        }
