# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Pure validation of a deployment plan (no AWS calls).

AWS and the local emulator accept many plans that cannot work (overlapping VPCs
that can never be peered, a subnet outside its VPC, a target group name AWS will
reject at the very end of a run).  Every rule here runs before any change is made
and returns messages an operator can act on: variable, value, rule, fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names
from ansible_collections.medzen.ehrbase.plugins.module_utils.plan_roles import plan_error, validate_role_variables

# Regions where EHRbase may be deployed; botocore's list would also do, but a fixed
# list keeps the validator pure and testable.  Opt-in status is checked live.
KNOWN_REGIONS = frozenset(
    """
    us-east-1 us-east-2 us-west-1 us-west-2 af-south-1 ap-east-1 ap-south-1 ap-south-2
    ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ap-northeast-1
    ap-northeast-2 ap-northeast-3 ca-central-1 ca-west-1 eu-central-1 eu-central-2 eu-west-1
    eu-west-2 eu-west-3 eu-south-1 eu-south-2 eu-north-1 il-central-1 me-south-1 me-central-1
    mx-central-1 sa-east-1
    """.split()
)
OPT_IN_REGIONS = frozenset(
    "af-south-1 ap-east-1 ap-south-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ca-west-1 "
    "eu-central-2 eu-south-1 eu-south-2 il-central-1 me-south-1 me-central-1 mx-central-1".split()
)
REGION_ROLES = ("primary", "secondary", "africa")

# AWS's length and character limits of the names that run out first as the prefix grows.
NAME_LIMITS = (
    ("application load balancer", "alb", 32, r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"),
    ("target group", "target_group", 32, r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"),
    ("RDS instance identifier", "db", 63, r"^[a-z][a-z0-9-]*[a-z0-9]$"),
    ("RDS instance identifier of a recovered database", "recovered_db", 63, r"^[a-z][a-z0-9-]*[a-z0-9]$"),
    ("RDS parameter group", "db_parameter_group", 255, r"^[a-z][a-z0-9-]*[a-z0-9]$"),
    ("ECS cluster", "cluster", 255, r"^[A-Za-z0-9_-]+$"),
    ("IAM role", "execution_role", 64, r"^[\w+=,.@-]+$"),
    ("security group", "rds_security_group", 255, r"^[\w .:/()#,@\[\]+=&;{}!$*-]+$"),
)

_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _type_name(value):
    """The YAML type a value was read as (ansible-core 2.19 wraps values in tagged subclasses of the builtins)."""
    for kind in (bool, int, float, str, list, dict):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


_err = plan_error


def _network(value):
    try:
        return ipaddress.ip_network(str(value), strict=True), None
    except ValueError as e:
        return None, str(e)


def _check_subnets(region, var, subnets, vpc, errors):
    """Validate one tier's list of {cidr, az}; returns the parsed networks."""
    nets = []
    if not isinstance(subnets, list) or len(subnets) != 2:
        errors.append(
            _err(var, subnets, "must be a list of exactly 2 subnets ({cidr, az}), one per Availability Zone",
                 "list two subnets, e.g. [{cidr: 10.0.1.0/24, az: %sa}, {cidr: 10.0.2.0/24, az: %sb}]"
                 % (region, region), region)
        )
        return nets
    azs = []
    for i, sub in enumerate(subnets):
        item = "%s[%d]" % (var, i)
        if not isinstance(sub, dict) or not isinstance(sub.get("cidr"), str) or not isinstance(sub.get("az"), str):
            errors.append(_err(item, sub, "must be a mapping with string keys 'cidr' and 'az'",
                               "write it as {cidr: 10.x.y.0/24, az: %sa}" % region, region))
            continue
        net, problem = _network(sub["cidr"])
        if net is None:
            errors.append(_err(item + ".cidr", sub["cidr"], "is not a valid IPv4 network (%s)" % problem,
                               "use network-address/prefix such as 10.0.1.0/24", region))
        elif vpc is not None and not net.subnet_of(vpc):
            errors.append(_err(item + ".cidr", sub["cidr"], "lies outside the VPC %s" % vpc,
                               "choose a subnet inside %s" % vpc, region))
        elif not 16 <= net.prefixlen <= 28:
            errors.append(_err(item + ".cidr", sub["cidr"], "AWS subnets must be between /16 and /28",
                               "use a prefix length from 16 to 28 (24 is usual)", region))
        else:
            nets.append((item, net))
        az = sub["az"]
        if not re.match(r"^%s[a-z]$" % re.escape(region), az):
            errors.append(_err(item + ".az", az, "is not an Availability Zone of %s" % region,
                               "use a zone name such as %sa" % region, region))
        azs.append(az)
    if len(azs) == 2 and azs[0] == azs[1]:
        errors.append(_err(var, azs, "both subnets are in one Availability Zone; Multi-AZ needs 2 distinct AZs",
                           "put the second subnet in another zone, e.g. %sb" % region, region))
    return nets


def _check_vpc(region, plan, errors):
    """The VPC range, or None when it is unusable (the subnet checks then skip the inside-the-VPC rule)."""
    vpc, problem = _network(plan.get("network_vpc_cidr"))
    if vpc is None:
        errors.append(_err("network_vpc_cidr", plan.get("network_vpc_cidr"),
                           "is not a valid IPv4 network (%s)" % problem,
                           "use network-address/prefix such as 10.0.0.0/16", region))
    elif not 16 <= vpc.prefixlen <= 28:
        errors.append(_err("network_vpc_cidr", str(vpc), "AWS VPCs must be between /16 and /28",
                           "use a prefix length from 16 to 28 (16 is usual)", region))
        vpc = None
    return vpc


def _check_network(region, plan):
    """VPC, both subnet tiers, their overlaps and zones."""
    errors = []
    vpc = _check_vpc(region, plan, errors)
    public = _check_subnets(region, "network_public_subnets", plan.get("network_public_subnets"), vpc, errors)
    private = _check_subnets(region, "network_private_subnets", plan.get("network_private_subnets"), vpc, errors)
    allnets = public + private
    for i, (name_a, a) in enumerate(allnets):
        for name_b, b in allnets[i + 1:]:
            if a.overlaps(b):
                errors.append(_err(name_b + ".cidr", str(b), "overlaps %s (%s) in the same VPC" % (name_a, a),
                                   "give every subnet its own range", region))
    pub_azs = sorted(s.get("az") for s in plan.get("network_public_subnets") or [] if isinstance(s, dict))
    prv_azs = sorted(s.get("az") for s in plan.get("network_private_subnets") or [] if isinstance(s, dict))
    if pub_azs and prv_azs and pub_azs != prv_azs:
        errors.append(_err("network_private_subnets", prv_azs,
                           "private subnets must use the same AZs as the public ones %s (each AZ's NAT "
                           "gateway lives in its public subnet)" % pub_azs,
                           "use the same two zones for both tiers", region))
    return errors


# The widest admin range PostgreSQL may be opened to (the database is private: only a bastion or a VPN inside
# private address space can reach it).
ADMIN_CIDR_WIDEST = 24


def _check_admin_cidrs(region, plan):
    errors = []
    for idx, cidr in enumerate(plan.get("network_rds_admin_cidrs") or []):
        net, problem = _network(cidr)
        var = "network_rds_admin_cidrs[%d]" % idx
        if net is None:
            errors.append(_err(var, cidr, "is not a valid IPv4 network (%s)" % problem,
                               "use e.g. 10.0.1.10/32", region))
        elif net.prefixlen < ADMIN_CIDR_WIDEST:
            errors.append(_err(var, cidr, "opens PostgreSQL to %d addresses; the admin path must be narrow (at most "
                               "a /%d)" % (net.num_addresses, ADMIN_CIDR_WIDEST),
                               "use the /32 of your bastion or VPN", region))
        elif not net.is_private:
            errors.append(_err(var, cidr, "is public address space; the database has only private addresses, so a "
                               "public range can never be the admin path and would only widen the rule",
                               "use the private /32 of your bastion or VPN", region))
    return errors


def _check_names(region, plan):
    """Every resource name the prefix makes must fit AWS's length and character rules."""
    prefix = plan.get("ehrbase_name_prefix")
    if not isinstance(prefix, str) or not prefix:
        return [_err("ehrbase_name_prefix", prefix, "must be a non-empty string",
                     "leave it to the default or set e.g. medzen-prod-euw1", region)]
    if not re.match(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", prefix):
        return [_err("ehrbase_name_prefix", prefix, "must be lower-case letters and digits in hyphen-separated words, "
                     "starting with a letter and not ending with a hyphen (RDS and load balancer names end at it)",
                     "e.g. medzen-prod-euw1", region)]
    if prefix.startswith("internal-"):
        return [_err("ehrbase_name_prefix", prefix, "starts with internal-, which AWS reserves for internal load "
                     "balancer names", "use another first word, e.g. the project name", region)]
    errors = []
    names = resource_names(prefix)
    for what, key, limit, pattern in NAME_LIMITS:
        name = names[key]
        if len(name) > limit:
            errors.append(_err("ehrbase_name_prefix", prefix,
                               "makes the %s name %r %d characters long; AWS allows %d"
                               % (what, name, len(name), limit),
                               "shorten ehrbase_project or ehrbase_environment (at most %d characters "
                               "for the prefix)" % (limit - len(name) + len(prefix)), region))
        elif not re.match(pattern, name):
            errors.append(_err("ehrbase_name_prefix", prefix,
                               "makes the %s name %r, which AWS rejects (allowed: %s)" % (what, name, pattern),
                               "use lower-case letters, digits and hyphens, starting with a letter", region))
    return errors


# What prod keeps unless the inventory lists the exception in ehrbase_prod_overrides.
PROD_GUARANTEES = (
    ("rds_multi_az", "multi_az", "a standby in a second AZ (an AZ outage would take the region's database down)"),
    ("rds_deletion_protection", "deletion_protection", "deletion protection (one API call could delete the patient "
                                                       "records)"),
)


def _check_prod_guarantees(region, plan):
    if plan.get("ehrbase_environment") != "prod":
        return []
    overrides = plan.get("ehrbase_prod_overrides") or []
    errors = []
    for var, name, what in PROD_GUARANTEES:
        if plan.get(var) is False and name not in overrides:
            errors.append(_err(var, False, "switches off %s in prod" % what,
                               "remove it, or - knowingly - add %s to ehrbase_prod_overrides" % name, region))
    return errors


def validate_region(region, plan):
    """Rules for one region's plan. `plan` holds that host's variables."""
    if not isinstance(region, str) or not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", region) \
            or region not in KNOWN_REGIONS:
        return [_err("ehrbase_region", region, "is not an AWS region name",
                     "use one of: %s" % ", ".join(sorted(KNOWN_REGIONS)))]
    errors = []
    role = plan.get("ehrbase_region_role")
    if role not in REGION_ROLES:
        errors.append(_err("ehrbase_region_role", role, "must be one of %s" % ", ".join(REGION_ROLES),
                           "set ehrbase_region_role in the region's host_vars", region))
    for check in (_check_network, _check_admin_cidrs, _check_database, _check_app, _check_names, _check_prod_guarantees,
                  validate_role_variables):
        errors.extend(check(region, plan))
    return errors


_DB_CLASS = re.compile(
    r"^db\.(t3|t4g|m5|m5d|m6g|m6gd|m6i|m6id|m7g|m7i|r5|r5b|r6g|r6gd|r6i|r6id|r7g|r7i|x2g)"
    r"\.(micro|small|medium|large|xlarge|\d{1,2}xlarge)$"
)


# RDS PostgreSQL master user: 1-63 letters, digits, underscores, starting with a letter, not one of RDS's own.
_RDS_USER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
RDS_RESERVED_USERS = ("rdsadmin", "rdsrepladmin", "rds_superuser", "postgres", "public", "admin")
# Storage: size range (GB) and provisioned IOPS range and IOPS/GB ratio per type.
RDS_STORAGE = {"gp3": (20, 65536, None), "io1": (100, 65536, (1000, 256000, 50)), "io2": (100, 65536, (1000, 256000, 1000))}


def _check_storage(region, plan):
    kind, size, iops = plan.get("rds_storage_type") or "gp3", plan.get("rds_allocated_storage"), plan.get("rds_iops")
    if size is not None and not isinstance(size, int):
        return [_err("rds_allocated_storage", size, "must be a whole number of GB", "use e.g. 100", region)]
    if kind not in RDS_STORAGE:
        return [_err("rds_storage_type", kind, "must be one of %s" % ", ".join(sorted(RDS_STORAGE)),
                     "use gp3 (the design) or io1/io2 with rds_iops", region)]
    low, high, provisioned = RDS_STORAGE[kind]
    if isinstance(size, int) and not low <= size <= high:
        return [_err("rds_allocated_storage", size, "%s storage must be %d-%d GB" % (kind, low, high),
                     "use e.g. %d" % max(low, 100), region)]
    if provisioned is None:
        return []
    iops_low, iops_high, ratio = provisioned
    if not isinstance(iops, int) or not iops_low <= iops <= iops_high:
        return [_err("rds_iops", iops, "%s storage needs provisioned IOPS, %d-%d" % (kind, iops_low, iops_high),
                     "set rds_iops, e.g. 3000, or use gp3", region)]
    if isinstance(size, int) and iops > size * ratio:
        return [_err("rds_iops", iops, "%s allows at most %d IOPS per GB (%d for %d GB)" % (kind, ratio, size * ratio, size),
                     "lower rds_iops or raise rds_allocated_storage", region)]
    return []


def _check_master_user(region, plan):
    user = plan.get("rds_master_username")
    if user is None:
        return []
    if not isinstance(user, str) or not _RDS_USER.match(user):
        return [_err("rds_master_username", user, "RDS PostgreSQL master user names are 1-63 letters, digits or "
                     "underscores, starting with a letter", "use e.g. ehrbase_master", region)]
    if user.lower() in RDS_RESERVED_USERS:
        return [_err("rds_master_username", user, "is reserved by RDS or PostgreSQL", "use e.g. ehrbase_master", region)]
    return []


def _not_a_string(variable, version, example, region, why=""):
    """Version numbers YAML reads as numbers (16.10 -> 16.1): one message for every version variable."""
    return [_err(variable, version, "must be a string; YAML read it as a %s%s" % (_type_name(version), why),
                 "quote it, e.g. %s: \"%s\"" % (variable, example), region)]


def _check_engine_version(region, version):
    if version is None:
        return []
    if not isinstance(version, str):
        return _not_a_string("rds_engine_version", version, "16.8", region, " (16.10 would become 16.1)")
    if not re.match(r"^16\.\d{1,2}$", version):
        return [_err("rds_engine_version", version, "EHRbase runs here on PostgreSQL 16.x (major.minor)",
                     "use a 16.x version RDS offers, e.g. 16.8 (aws rds describe-db-engine-versions "
                     "--engine postgres --query 'DBEngineVersions[].EngineVersion')", region)]
    return []


def _check_database(region, plan):
    """RDS settings the emulator accepts but AWS rejects (or that would hurt patient data)."""
    errors = (_check_storage(region, plan) + _check_master_user(region, plan)
              + _check_engine_version(region, plan.get("rds_engine_version")))
    klass = plan.get("rds_instance_class")
    if klass is not None and not _DB_CLASS.match(str(klass)):
        errors.append(_err("rds_instance_class", klass, "is not an RDS PostgreSQL instance class",
                           "use e.g. db.t3.medium, db.m6g.large or db.r6g.xlarge", region))
    backups = plan.get("rds_backup_retention_days")
    if backups is not None and (not isinstance(backups, int) or not 1 <= backups <= 35):
        errors.append(_err("rds_backup_retention_days", backups,
                           "automated backups must be kept 1-35 days (0 would disable them)", "use 7 or more", region))
    length = plan.get("rds_password_length")
    if length is not None and (not isinstance(length, int) or not 32 <= length <= 99):
        errors.append(_err("rds_password_length", length, "generated passwords must be 32-99 characters",
                           "use 40", region))
    return errors


# Fargate CPU units -> allowed memory (MiB).
FARGATE_SIZES = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}


def _check_version(region, version):
    if version is None:
        return []
    if not isinstance(version, str):
        return _not_a_string("ecs_ehrbase_version", version, "2.30.0", region)
    pinned = re.match(r"^2\.(\d+)\.\d+(?:-[A-Za-z0-9][A-Za-z0-9.-]*)?$", version)
    if not pinned:
        return [_err("ecs_ehrbase_version", version, "must pin an EHRbase 2.x release (2.y.z or 2.y.z-suffix, "
                     "never latest)", "use e.g. 2.30.0", region)]
    if int(pinned.group(1)) < 30:
        return [_err("ecs_ehrbase_version", version, "is older than 2.30.0: before 2.30 EHRbase's actuator "
                     "health is admin-only, so the load balancer and Route53 get 401 and no task becomes healthy",
                     "use 2.30.0 or later", region)]
    return []


def _check_counts(region, plan):
    counts = [plan.get(k) for k in ("ecs_min_count", "ecs_desired_count", "ecs_max_count")]
    if all(c is None for c in counts):
        return []
    errors = []
    low, want, high = [c if c is not None else d for c, d in zip(counts, (2, 2, 4))]
    if low < 2:
        errors.append(_err("ecs_min_count", low, "fewer than 2 tasks cannot cover both Availability Zones",
                           "keep at least 2 (rollback_single_region scales regions to 0 on purpose)", region))
    if not low <= want <= high:
        errors.append(_err("ecs_desired_count", want, "must lie within ecs_min_count..ecs_max_count (%s..%s)"
                           % (low, high), "adjust the three counts", region))
    return errors


# CloudWatch Logs retention values (PutRetentionPolicy accepts nothing else).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# ALB policies no weaker than the design's ELBSecurityPolicy-TLS13-1-2-2021-06: TLS 1.2 or 1.3 only.
TLS_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]-|TLS-1-2-|FS-1-2-)[A-Za-z0-9-]+$")
# Target tracking goals a service can actually reach and hold (percent).
SCALING_TARGET = (10, 90)


def _check_app_settings(region, plan):
    errors = []
    retention = plan.get("ecs_log_retention_days")
    if retention is not None and retention not in LOG_RETENTION_DAYS:
        errors.append(_err("ecs_log_retention_days", retention, "CloudWatch Logs keeps logs only for one of %s days"
                           % ", ".join(str(d) for d in LOG_RETENTION_DAYS), "use 30 (the design) or 90", region))
    policy = plan.get("ecs_ssl_policy")
    if policy is not None and not TLS_POLICY.match(str(policy)):
        errors.append(_err("ecs_ssl_policy", policy, "allows TLS older than 1.2 or is not an ALB security policy",
                           "use ELBSecurityPolicy-TLS13-1-2-2021-06 (the design) or another TLS13-1-2/TLS-1-2 policy",
                           region))
    for var in ("ecs_cpu_target", "ecs_memory_target"):
        value = plan.get(var)
        if value is not None and (not isinstance(value, (int, float)) or not SCALING_TARGET[0] <= value <= SCALING_TARGET[1]):
            errors.append(_err(var, value, "a target-tracking goal must be %d-%d %%: above that no service reaches it "
                               "(it never scales out), below it never scales in" % SCALING_TARGET,
                               "use 70 (CPU) or 80 (memory)", region))
    return errors


def _check_app(region, plan):
    """ECS settings AWS would reject late in a run (or that break Multi-AZ)."""
    errors = _check_version(region, plan.get("ecs_ehrbase_version")) + _check_app_settings(region, plan)
    cpu, memory = plan.get("ecs_task_cpu"), plan.get("ecs_task_memory")
    if cpu is not None or memory is not None:
        cpu = 1024 if cpu is None else cpu
        memory = 2048 if memory is None else memory
        if cpu not in FARGATE_SIZES or memory not in FARGATE_SIZES[cpu]:
            errors.append(_err("ecs_task_cpu/ecs_task_memory", "%s/%s" % (cpu, memory),
                               "is not a Fargate size", "use 1024/2048 (1 vCPU, 2 GB) or another pair AWS lists "
                               "for Fargate", region))
    errors.extend(_check_counts(region, plan))
    grace = plan.get("ecs_health_check_grace_period")
    if grace is not None and grace < 180:
        errors.append(_err("ecs_health_check_grace_period", grace,
                           "EHRbase needs 30-60 s to start plus its migrations; below 180 s the circuit breaker "
                           "kills healthy tasks", "use 180 or more", region))
    return errors


# ACM: the certificate's first name (the domain itself) is at most 64 characters.
ACM_DOMAIN_MAX = 64


def _check_domain(domain):
    if not isinstance(domain, str) or not domain:
        return [_err("ehrbase_domain", domain, "is required: the public name of the EHR service",
                     "set ehrbase_domain, e.g. ehr.medzenhealth.app, in group_vars")]
    if domain.endswith("."):
        return [_err("ehrbase_domain", domain, "ends with a dot; Route53 and ACM names here are written without it",
                     "write %s" % domain.rstrip("."))]
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.match(lbl) for lbl in labels):
        return [_err("ehrbase_domain", domain, "is not a valid lower-case DNS name with at least two labels "
                     "(each label 1-63 letters, digits or hyphens, not starting or ending with a hyphen)",
                     "use a name such as ehr.medzenhealth.app")]
    if len(domain) > ACM_DOMAIN_MAX:
        return [_err("ehrbase_domain", domain, "is %d characters; an ACM certificate's domain name may have at most %d"
                     % (len(domain), ACM_DOMAIN_MAX), "use a shorter public name")]
    return []


def _check_zone(domain, zone):
    if zone is None or not isinstance(domain, str) or not domain:
        return []  # no domain: its own message says what to do
    if not isinstance(zone, str) or not zone or zone.endswith("."):
        return [_err("ehrbase_zone_name", zone, "must be the hosted zone's name, without a trailing dot",
                     "e.g. medzenhealth.app")]
    if domain != zone and not domain.endswith("." + zone):
        return [_err("ehrbase_zone_name", zone, "is not a parent of ehrbase_domain %s: the records and the "
                     "certificate's validation records could not go into it" % domain,
                     "name the hosted zone that holds %s (e.g. %s)" % (domain, domain.split(".", 1)[-1]))]
    return []


def validate_global(plan):
    """Rules that hold for the deployment as a whole (first region's view of the globals)."""
    errors = _check_domain(plan.get("ehrbase_domain"))
    errors.extend(_check_zone(plan.get("ehrbase_domain"), plan.get("ehrbase_zone_name")))
    env = plan.get("ehrbase_environment")
    if not isinstance(env, str) or not re.match(r"^[a-z][a-z0-9]{1,9}$", env):
        errors.append(_err("ehrbase_environment", env, "must be 2-10 lower-case letters/digits starting with a letter",
                           "use e.g. prod, staging or local"))
    project = plan.get("ehrbase_project")
    if not isinstance(project, str) or not re.match(r"^[a-z][a-z0-9]{1,11}$", project):
        errors.append(_err("ehrbase_project", project, "must be 2-12 lower-case letters/digits starting with a letter",
                           "use e.g. medzen"))
    return errors


def _check_across_regions(plans):
    """Exactly one primary and one secondary (Europe's failover pair), at most one Africa region, distinct prefixes
    and VPC ranges."""
    errors = []
    roles = {}
    for region, plan in plans.items():
        roles.setdefault(plan.get("ehrbase_region_role"), []).append(region)
    for role, rule in (("primary", "exactly one region must be the primary (it serves Europe and the default answer)"),
                       ("secondary", "exactly one region must be the secondary (Europe's failover target)")):
        if len(roles.get(role, [])) != 1:
            errors.append(_err("ehrbase_region_role", roles.get(role, []), rule,
                               "set ehrbase_region_role: primary on one region, secondary on one, africa on the third"))
    if len(roles.get("africa", [])) > 1:
        errors.append(_err("ehrbase_region_role", roles["africa"], "at most one region can serve Africa (af.<domain> "
                           "has one primary record)", "give the other region the role it has in the design"))
    prefixes = {}
    for region, plan in plans.items():
        prefixes.setdefault(plan.get("ehrbase_name_prefix"), []).append(region)
    for prefix, regions in sorted(prefixes.items(), key=lambda kv: str(kv[0])):
        if prefix and len(regions) > 1:
            errors.append(_err("ehrbase_name_prefix", prefix, "is used by %s; every resource name of one region would "
                               "also be another's (IAM roles are global: they would be shared)" % ", ".join(regions),
                               "leave ehrbase_name_prefix to its default (<project>-<environment>-<region short>)"))
    errors.extend(_check_vpcs_distinct(plans))
    errors.extend(_check_backup_partners(plans))
    errors.extend(_check_standby(plans))
    return errors


_STANDBY_FIX = ("declare each standby region once, as a replica of a region that stands by for nobody, e.g. "
                "ehrbase_standby: {eu-central-1: eu-west-1}; {} for none (docs/standby.md)")


def _check_standby_pair(standby, source, plans):
    """One standby: which rule it breaks, or None."""
    if not isinstance(standby, str) or not isinstance(source, str):
        return "each entry must be <standby region>: <source region>, both region names"
    for name in (standby, source):
        if name not in plans:
            return "%s is not a region of this deployment (%s)" % (name, ", ".join(sorted(plans)))
    if standby == source:
        return "a region cannot stand by for itself"
    if plans[standby].get("ehrbase_region_role") == "primary":
        return ("%s is the primary: it takes Europe's writes, a replica cannot (make the source the primary, or the "
                "standby another region)" % standby)
    majors = [str(plans[r].get("rds_engine_version") or "").split(".", maxsplit=1)[0] for r in (standby, source)]
    if majors[0] != majors[1]:
        return ("PostgreSQL %s (standby) and %s (source): a read replica runs the source's major version"
                % (majors[0] or "?", majors[1] or "?"))
    partner = plans[source].get("rds_backup_copy_region")
    partner = plans[source].get("ehrbase_backup_partner") if partner is None else partner
    if partner != standby:
        return ("the standby's EHRbase opens the replica with %s's database secrets, replicated and encrypted with "
                "the copy key in %s's backup partner only (%r): the standby must be that partner (a source whose "
                "records must stay in its region has none)" % (source, source, partner or "none"))
    return None


def _check_standby(plans):
    """ehrbase_standby (standby region -> source region): pairs a replica can serve, no chains or cycles."""
    topology = next(iter(plans.values())).get("ehrbase_standby")
    if topology in (None, {}):
        return []
    if not isinstance(topology, dict):
        return [_err("ehrbase_standby", topology, "must be a mapping of standby region to source region",
                     _STANDBY_FIX)]
    errors = []
    for standby, source in sorted(topology.items(), key=str):
        problem = None
        if isinstance(source, str) and source != standby and source in topology:
            problem = ("%s is itself a standby (of %s): a chain or cycle of replicas has no writer to fail over "
                       "from" % (source, topology[source]))
        problem = problem or _check_standby_pair(standby, source, plans)
        if problem is None and list(topology.values()).count(source) > 1:
            problem = "%s has more than one standby; one warm standby per source" % source
        if problem:
            errors.append(_err("ehrbase_standby", {standby: source}, problem, _STANDBY_FIX))
    return errors


def _check_backup_partners(plans):
    """Each region's backup copies go to another region of this plan (whose key and subnets hold them)."""
    errors = []
    for region, plan in sorted(plans.items()):
        variable = "rds_backup_copy_region" if plan.get("rds_backup_copy_region") is not None else "ehrbase_backup_partner"
        partner = plan.get(variable)
        if partner in (None, ""):
            continue
        fix = ("map it to another region of this inventory in ehrbase_backup_partners (e.g. eu-west-1: eu-central-1), "
               "or set ehrbase_backup_copies: false for this region (data residency) to keep no copy elsewhere")
        if not isinstance(partner, str):
            errors.append(_err(variable, partner, "must be a region name (a string)", fix, region))
        elif partner == region:
            errors.append(_err(variable, partner, "copies in the region they protect are lost with it",
                               fix, region))
        elif partner not in plans:
            errors.append(_err(variable, partner, "is not a region of this deployment (%s): nothing "
                               "there holds the key and subnets to restore into" % ", ".join(sorted(plans)), fix,
                               region))
    return errors


def _check_vpcs_distinct(plans):
    errors, vpcs = [], []
    for region, plan in plans.items():
        net, _problem = _network(plan.get("network_vpc_cidr"))
        if net is None:
            continue
        for other_region, other in vpcs:
            if net.overlaps(other):
                errors.append(_err("network_vpc_cidr", str(net),
                                   "overlaps the VPC of %s (%s); regions need distinct ranges so they "
                                   "can be peered or reached over VPN later" % (other_region, other),
                                   "give each region its own /16, e.g. 10.0/10.1/10.2.0.0/16", region))
        vpcs.append((region, net))
    return errors


def validate_plan(plans):
    """`plans` maps region name -> that region's variables. Returns a list of messages."""
    if not plans:
        return ["inventory group ehrbase_regions = []: no region to deploy. Fix: add at least one region host"]
    errors = validate_global(next(iter(plans.values())))
    for region, plan in plans.items():
        errors.extend(validate_region(region, plan))
    errors.extend(_check_across_regions(plans))
    return errors
