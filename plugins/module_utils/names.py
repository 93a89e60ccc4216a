# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The naming rule: every name a region's resources and secrets get from its name prefix, the deployment-wide names,
the short code of a region, the subnets' names and tiers, and which region of an inventory is the primary.

One source for each name: the roles (through the resource_names and global_names filters), the playbooks (drill,
rollback, verify, teardown), the plan's length checks (plan.py), the catalogue (catalogue.py) and the modules that
look resources up all read them here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

_DIRECTIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}

# Every name a region's resources and secrets get, from its name prefix {p}: the one rule that the roles,
# playbooks (drill, rollback, verify, teardown) and the length checks below all read through
# resource_names(). {az} is the zone letter of a per-AZ resource, {tier} public or private; {major} the
# PostgreSQL major version.
RESOURCE_NAMES = {
    "vpc": "{p}-vpc",
    "subnet": "{p}-{tier}-{az}",
    "internet_gateway": "{p}-igw",
    "nat_gateway": "{p}-nat-{az}",
    "nat_eip": "{p}-nat-eip-{az}",
    "public_route_table": "{p}-public-rt",
    "private_route_table": "{p}-private-rt-{az}",
    "alb_security_group": "{p}-alb-sg",
    "ecs_security_group": "{p}-ecs-sg",
    "rds_security_group": "{p}-rds-sg",
    "kms_alias": "{p}-ehrbase",
    "db": "{p}-db",
    "db_subnet_group": "{p}-db-subnets",
    "db_parameter_group": "{p}-pg{major}",
    "cluster": "{p}-cluster",
    "service": "{p}-ehrbase",
    "task_family": "{p}-ehrbase",
    "log_group": "/ecs/{p}-ehrbase",
    "execution_role": "{p}-ecs-execution",
    "task_role": "{p}-ecs-task",
    "alb": "{p}-alb",
    "target_group": "{p}-tg",
    "health_check": "{p}-ehrbase",
    "health_check_alarm": "{p}-route53-health",
    "alarm_topic": "{p}-alarms",
    "alarm_prefix": "{p}-",
    "scaling_policy_prefix": "{p}-",
    "release_snapshot_prefix": "{p}-pre-",
    "secret_prefix": "{p}/ehrbase",
    "converged_seal": "{p}-ehrbase-converged",
    # In the backup partner region: the key of this region's backup copies and secret replicas, and the instances
    # a backup drill (temporary) and a region recovery (kept) restore from the copies.
    "backup_copy_kms_alias": "{p}-ehrbase-copies",
    "drill_db": "{p}-db-drill",
    "recovered_db": "{p}-db-recovered",
}
# The region's secrets, by the key the roles use for each (rds_outputs.secret_names has the same keys).
SECRET_NAMES = {
    "master": "db-master",
    "owner": "db-owner",
    "app": "db-app",
    "api_user": "api-user",
    "api_admin": "api-admin",
}


# Names of what the deployment has once, not per region, from <project>-<environment> {d}.
GLOBAL_NAMES = {
    "dashboard": "{d}-ehrbase",
    "budget": "{d}-ehrbase-monthly",
    "route53_alarm_topic": "{d}-route53-alarms",
}


def global_names(deployment):
    """The deployment-wide names (dashboard, budget, Route53 alarm topic) of `deployment` (<project>-<environment>)."""
    return dict((key, pattern.format(d=deployment)) for key, pattern in GLOBAL_NAMES.items())


def resource_names(prefix, engine_major=16):
    """Every resource and secret name of the region whose name prefix is `prefix`.

    Per-AZ names keep an `{az}` placeholder (and the subnet a `{tier}` one) for the caller to fill in.
    """
    names = {key: pattern.format(p=prefix, major=engine_major, az="{az}", tier="{tier}")
             for key, pattern in RESOURCE_NAMES.items()}
    names["secrets"] = dict((key, "%s/%s" % (names["secret_prefix"], name)) for key, name in SECRET_NAMES.items())
    return names


def region_short(region):
    """eu-west-1 -> euw1, ap-southeast-2 -> apse2 (AWS's own short codes)."""
    parts = str(region).split("-")
    if len(parts) != 3:
        return str(region).replace("-", "")
    return parts[0] + _DIRECTIONS.get(parts[1], parts[1][:2]) + parts[2]


def subnet_layout(public, private, prefix):
    """The plan's subnets with generated names and tiers: medzen-prod-euw1-public-a, ..."""
    layout = []
    for tier, subnets in (("public", public), ("private", private)):
        for sub in subnets or []:
            layout.append({"name": RESOURCE_NAMES["subnet"].format(p=prefix, tier=tier, az=sub["az"][-1:]), "cidr": sub["cidr"],
                           "az": sub["az"], "tier": tier})
    return layout


def subnets_by_az(results):
    """Subnet task results -> {az: {public: id, private: id}}."""
    out = {}
    for res in results:
        item = res["item"]
        out.setdefault(item["az"], {})[item["tier"]] = res["subnet"]["id"]
    return out


def primary_region(regions, attribute="inventory_hostname"):
    """The primary among a list of region host variables (ehrbase_region_role: primary); '' when none is.

    Every play and role that needs the primary (the rollout order, the dashboard's region, teardown) asks here.
    """
    for region in regions:
        if region.get("ehrbase_region_role") == "primary":
            return region.get(attribute, "")
    return ""
