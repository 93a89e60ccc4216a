# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The catalogue: one definition of each kind of resource the collection manages in a region (and the few global ones).

Each kind says, once:
- which role makes it, with which modules, and which of their options the role declares (its *attributes*);
- how to find it from the names the roles publish (resource_names keys) and how many a default two-AZ plan has;
- which calls read it back (the converged-state reader digests their answers, plus the parts a describe does not
  return: attribute, policy and subscription calls) and which fields AWS changes by itself (never digested);
- which teardown task removes it, or why teardown keeps it;
- whether its create call takes no idempotency token, so that a retried create can leave a twin (the leftovers
  check looks for those).

Read by: the reader (converged.py: every `put` names its kind, the tier comes from here, the fields AWS moves are
the union of `aws_changes`), the check-mode creation plan (plan.creation_plan), teardown (tests check each kind's
teardown task), the leftovers check (ehrbase_leftovers reports the twin kinds) and the tests' census. The unit test
tests/unit/test_catalogue.py fails when a role uses a module or an option no kind covers, when the reader reads a
kind the catalogue lacks (or misses one), and when docs/catalogue.md is not the table made from this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names, subnet_layout

# Options that say how a module works, not what the resource is: no kind declares them.
HOW = frozenset(("state", "region", "wait", "wait_timeout", "apply_immediately", "client_token", "if_exist_do_not_create",
                 "overwrite", "modify_targets", "use_unique_names", "desired_count_mode", "revisions"))

# What every describe answer carries that is not the resource (paging, request ids).
PAGING = ("ResponseMetadata", "NextToken", "Marker", "NextMarker", "IsTruncated", "MaxItems")


class Kind(object):
    """One kind of resource; see the module docstring for the fields."""

    def __init__(self, key, cfn, tier, role, modules, reads, teardown, names=(), count=0, per_az=0, plan=(),
                 aws_changes=(), unread=None, twins="", scope="region"):
        self.key = key
        self.cfn = cfn
        self.tier = tier
        self.role = role
        self.modules = modules
        self.reads = reads
        self.teardown = teardown
        self.names = names
        self.count = count
        self.per_az = per_az
        self.plan = plan
        self.aws_changes = aws_changes
        self.unread = unread or {}
        self.twins = twins
        self.scope = scope

    def expected(self, azs=2):
        """How many of this kind a region of the default plan holds (AWS's own, like a VPC's main route table, not
        counted)."""
        return self.count + self.per_az * azs

    def attributes(self):
        return sorted(set(o for options in self.modules.values() for o in options))


TAGS = ("tags", "purge_tags")

KINDS = (
    # --- network (the network role) -------------------------------------------------------------------------------
    Kind("vpc", "AWS::EC2::VPC", "network", "network",
         {"amazon.aws.ec2_vpc_net": ("name", "cidr_block", "dns_support", "dns_hostnames") + TAGS},
         reads=("describe_vpcs", "describe_vpc_attribute"), names=("vpc",), count=1,
         plan=("AWS::EC2::VPC {vpc}",), aws_changes=("State",),
         teardown=("network.yml", "amazon.aws.ec2_vpc_net"),
         twins="CreateVpc takes no idempotency token"),
    Kind("subnet", "AWS::EC2::Subnet", "network", "network",
         {"amazon.aws.ec2_vpc_subnet": ("vpc_id", "az", "cidr", "map_public") + TAGS},
         reads=("describe_subnets",), names=("subnet",), per_az=2, plan=("subnets",),
         aws_changes=("State", "AvailableIpAddressCount"), teardown=("network.yml", "amazon.aws.ec2_vpc_subnet")),
    Kind("internet_gateway", "AWS::EC2::InternetGateway", "network", "network",
         {"amazon.aws.ec2_vpc_igw": ("vpc_id", "internet_gateway_id") + TAGS},
         reads=("describe_internet_gateways",), names=("internet_gateway",), count=1,
         plan=("AWS::EC2::InternetGateway {internet_gateway}",), teardown=("network.yml", "amazon.aws.ec2_vpc_igw"),
         twins="CreateInternetGateway takes no idempotency token"),
    Kind("elastic_ip", "AWS::EC2::EIP", "network", "network",
         {"amazon.aws.ec2_eip": ("in_vpc",) + TAGS},
         reads=("describe_addresses",), names=("nat_eip",), per_az=1, plan=("AWS::EC2::EIP {nat_eip}",),
         teardown=("network.yml", "amazon.aws.ec2_vpc_nat_gateway"),  # release_eip with its NAT gateway
         twins="AllocateAddress takes no idempotency token"),
    Kind("nat_gateway", "AWS::EC2::NatGateway", "network", "network",
         {"amazon.aws.ec2_vpc_nat_gateway": ("subnet_id", "allocation_id") + TAGS},
         reads=("describe_nat_gateways",), names=("nat_gateway",), per_az=1,
         plan=("AWS::EC2::NatGateway {nat_gateway}",), aws_changes=("State",),
         teardown=("network.yml", "amazon.aws.ec2_vpc_nat_gateway"),
         twins="a lost answer of CreateNatGateway retried with another token makes a second gateway"),
    Kind("route_table", "AWS::EC2::RouteTable", "network", "network",
         {"amazon.aws.ec2_vpc_route_table": ("vpc_id", "routes", "subnets") + TAGS},
         reads=("describe_route_tables",), names=("public_route_table", "private_route_table"), count=1, per_az=1,
         plan=("AWS::EC2::RouteTable {public_route_table}", "AWS::EC2::RouteTable {private_route_table}"),
         teardown=("network.yml", "amazon.aws.ec2_vpc_route_table"),
         twins="CreateRouteTable takes no idempotency token"),
    Kind("security_group", "AWS::EC2::SecurityGroup", "network", "network",
         {"amazon.aws.ec2_security_group": ("name", "description", "vpc_id", "rules", "purge_rules") + TAGS},
         reads=("describe_security_groups",), names=("alb_security_group", "ecs_security_group", "rds_security_group"),
         count=3, plan=("AWS::EC2::SecurityGroup {alb_security_group}", "AWS::EC2::SecurityGroup {ecs_security_group}",
                        "AWS::EC2::SecurityGroup {rds_security_group}"),
         teardown=("network.yml", "amazon.aws.ec2_security_group")),
    # --- database (the rds and db_init roles) ---------------------------------------------------------------------
    Kind("kms_key", "AWS::KMS::Key", "database", "rds",
         {"amazon.aws.kms_key": ("alias", "key_id", "description", "enabled", "enable_key_rotation", "policy") + TAGS},
         reads=("list_aliases", "describe_key", "get_key_policy", "get_key_rotation_status"), names=("kms_alias",),
         count=1, plan=("AWS::KMS::Key alias/{kms_alias}",),
         teardown="kept: the final snapshot and the deleted secrets are encrypted with it",
         twins="CreateKey takes no idempotency token"),
    Kind("backup_copy_key", "AWS::KMS::Key", "database", "rds",
         {"amazon.aws.kms_key": ("alias", "description", "enable_key_rotation", "policy") + TAGS},
         reads=("list_aliases", "describe_key", "get_key_policy", "get_key_rotation_status"),
         names=("backup_copy_kms_alias",), scope="partner",
         plan=("AWS::KMS::Key alias/{backup_copy_kms_alias} in {partner} (backup copies, secret replicas)",),
         teardown="kept: the backup copies in the partner region are encrypted with it"),
    Kind("secret", "AWS::SecretsManager::Secret", "database", "rds",
         {"community.aws.secretsmanager_secret": ("name", "description", "secret", "secret_type", "kms_key_id",
                                                  "replica") + TAGS,
          # The key of an existing secret (secretsmanager_secret sends one only with a new value).
          "medzen.ehrbase.secret_kms_key": ("names", "kms_key_id")},
         reads=("describe_secret", "get_resource_policy"), names=("secrets",), count=5,
         plan=("secrets",), aws_changes=("VersionIdsToStages",),
         unread={"secret": "a secret's value is never read back into a digest or a seal"},
         teardown=("data.yml", "community.aws.secretsmanager_secret")),
    Kind("db_subnet_group", "AWS::RDS::DBSubnetGroup", "database", "rds",
         {"amazon.aws.rds_subnet_group": ("name", "description", "subnets") + TAGS},
         reads=("describe_db_subnet_groups",), names=("db_subnet_group",), count=1,
         plan=("AWS::RDS::DBSubnetGroup {db_subnet_group}",), teardown=("data.yml", "amazon.aws.rds_subnet_group")),
    Kind("db_parameter_group", "AWS::RDS::DBParameterGroup", "database", "rds",
         {"amazon.aws.rds_instance_param_group": ("name", "description", "engine") + TAGS,
          "medzen.ehrbase.rds_parameters": ("name", "params")},
         reads=("describe_db_parameter_groups", "describe_db_parameters"), names=("db_parameter_group",), count=1,
         plan=("AWS::RDS::DBParameterGroup {db_parameter_group}",),
         teardown=("data.yml", "amazon.aws.rds_instance_param_group")),
    Kind("db_instance", "AWS::RDS::DBInstance", "database", "rds",
         {"amazon.aws.rds_instance": (
             "db_instance_identifier", "engine", "engine_version", "db_instance_class", "allocated_storage",
             "storage_type", "iops", "storage_encrypted", "kms_key_id", "multi_az", "username", "password", "port",
             "db_subnet_group_name", "db_parameter_group_name", "vpc_security_group_ids", "publicly_accessible",
             "backup_retention_period", "copy_tags_to_snapshot", "deletion_protection", "auto_minor_version_upgrade",
             "enable_cloudwatch_logs_exports",
             # A warm standby's database is a cross-region read replica (docs/standby.md); teardown deletes a
             # replica without a final snapshot (AWS takes none of a replica).
             "read_replica", "source_db_instance_identifier", "source_region", "skip_final_snapshot") + TAGS,
          # A region recovered from its backup copies gets its database from them (recover_region.yml).
          "medzen.ehrbase.rds_backup_restore": (
              "db_instance_identifier", "source_db_instance_automated_backups_arn", "restore_time", "db_instance_class",
              "multi_az", "db_subnet_group_name", "db_parameter_group_name", "vpc_security_group_ids",
              "deletion_protection", "tags")},
         reads=("describe_db_instances",), names=("db",), count=1, plan=("AWS::RDS::DBInstance {db}",),
         aws_changes=("DBInstanceStatus", "StatusInfos", "ActivityStreamStatus"),
         unread={"password": "AWS never returns it; the secret holds it",
                 "source_db_instance_automated_backups_arn": "where a restore came from, not what the database is",
                 "restore_time": "where a restore came from, not what the database is",
                 "source_region": "the source's region is in its ARN (ReadReplicaSourceDBInstanceIdentifier)",
                 "skip_final_snapshot": "how a database is deleted, not what it is"},
         teardown=("data.yml", "amazon.aws.rds_instance")),
    Kind("backup_replication", "AWS::RDS::DBInstanceAutomatedBackupsReplication", "database", "rds",
         {"medzen.ehrbase.rds_backup_replication": ("source_db_instance_arn", "backup_retention_period", "kms_key_id")},
         reads=("describe_db_instance_automated_backups",), names=("db",), scope="partner",
         plan=("AWS::RDS::DBInstanceAutomatedBackupsReplication {db} -> {partner}",),
         aws_changes=("Status", "RestoreWindow"),
         teardown=("data.yml", "medzen.ehrbase.rds_backup_replication")),
    Kind("db_schema", "PostgreSQL database ehrbase, roles and schemas", "database", "db_init",
         {"medzen.ehrbase.ehrbase_db_bootstrap": ("database", "owner_role", "owner_password", "app_role",
                                                  "app_password", "optimise_jsonb_path_query", "login_host",
                                                  "login_port", "login_user", "login_password", "ssl_mode",
                                                  "ssl_rootcert", "connect_timeout")},
         reads=(), names=("db",), plan=("PostgreSQL database ehrbase, roles and schemas on {db} (db_init)",),
         unread={"*": "inside PostgreSQL, not AWS: db_init compares and repairs it on every normal run"},
         teardown=("data.yml", "amazon.aws.rds_instance")),
    # --- app (the ecs role) ---------------------------------------------------------------------------------------
    Kind("log_group", "AWS::Logs::LogGroup", "app", "ecs",
         {"amazon.aws.cloudwatchlogs_log_group": ("log_group_name", "retention") + TAGS},
         reads=("describe_log_groups",), names=("log_group",), count=1, plan=("AWS::Logs::LogGroup {log_group}",),
         aws_changes=("storedBytes", "metricFilterCount", "creationTime"),
         teardown=("app.yml", "amazon.aws.cloudwatchlogs_log_group")),
    Kind("iam_role", "AWS::IAM::Role", "app", "ecs",
         {"amazon.aws.iam_role": ("name", "assume_role_policy_document", "managed_policies", "purge_policies") + TAGS,
          "amazon.aws.iam_policy": ("iam_type", "iam_name", "policy_name", "policy_json")},
         reads=("get_role", "list_role_policies", "get_role_policy", "list_attached_role_policies"),
         names=("execution_role", "task_role"), count=2,
         plan=("AWS::IAM::Role {execution_role}", "AWS::IAM::Role {task_role}"), aws_changes=("RoleLastUsed",),
         teardown=("app.yml", "amazon.aws.iam_role")),
    Kind("ecs_cluster", "AWS::ECS::Cluster", "app", "ecs",
         {"medzen.ehrbase.ecs_cluster_insights": ("name", "container_insights", "tags")},
         reads=("describe_clusters",), names=("cluster",), count=1, plan=("AWS::ECS::Cluster {cluster}",),
         aws_changes=("status", "registeredContainerInstancesCount", "runningTasksCount", "pendingTasksCount",
                      "activeServicesCount", "statistics"),
         teardown=("app.yml", "community.aws.ecs_cluster")),
    Kind("certificate", "AWS::CertificateManager::Certificate", "app", "ecs",
         {"medzen.ehrbase.acm_certificate_request": ("domain_name", "subject_alternative_names", "tags")},
         reads=("list_certificates", "describe_certificate"), count=1,
         plan=("AWS::CertificateManager::Certificate {domain} (+ {region}.{domain}) and its DNS validation records",),
         aws_changes=("Status", "InUseBy", "NotBefore", "NotAfter", "ValidationStatus", "RenewalEligibility"),
         teardown=("app.yml", "community.aws.acm_certificate")),
    Kind("load_balancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", "app", "ecs",
         {"amazon.aws.elb_application_lb": ("name", "scheme", "subnets", "security_groups", "listeners",
                                            "purge_listeners", "http_drop_invalid_header_fields") + TAGS},
         reads=("describe_load_balancers", "describe_tags", "describe_load_balancer_attributes", "describe_listeners",
                "describe_rules"),
         names=("alb",), count=1,
         plan=("AWS::ElasticLoadBalancingV2::LoadBalancer {alb}",
               "AWS::ElasticLoadBalancingV2::Listener {alb}:80 (redirect) and :443"),
         teardown=("app.yml", "amazon.aws.elb_application_lb")),
    Kind("target_group", "AWS::ElasticLoadBalancingV2::TargetGroup", "app", "ecs",
         {"community.aws.elb_target_group": (
             "name", "vpc_id", "port", "protocol", "target_type", "deregistration_delay_timeout", "health_check_path",
             "health_check_protocol", "health_check_interval", "health_check_timeout", "healthy_threshold_count",
             "unhealthy_threshold_count", "successful_response_codes") + TAGS},
         reads=("describe_target_groups", "describe_target_group_attributes"), names=("target_group",), count=1,
         plan=("AWS::ElasticLoadBalancingV2::TargetGroup {target_group}",),
         teardown=("app.yml", "community.aws.elb_target_group"),
         twins="a target group of the prefix no load balancer uses is left by a run killed between the two"),
    Kind("task_definition", "AWS::ECS::TaskDefinition", "app", "ecs",
         {"medzen.ehrbase.ecs_task_definition": ("family", "container_definitions", "cpu", "memory",
                                                 "execution_role_arn", "task_role_arn", "tags")},
         reads=("describe_task_definition", "list_task_definitions"), names=("task_family",), count=1,
         plan=("AWS::ECS::TaskDefinition {task_family}",),
         teardown=("app.yml", "medzen.ehrbase.ecs_task_definition"),
         twins="RegisterTaskDefinition takes no idempotency token: a retried one is a second revision"),
    Kind("ecs_service", "AWS::ECS::Service", "app", "ecs",
         {"medzen.ehrbase.ecs_fargate_service": (
             "name", "cluster", "task_definition", "desired_count", "min_count", "max_count", "subnets",
             "security_groups", "assign_public_ip", "load_balancers", "health_check_grace_period", "maximum_percent",
             "minimum_healthy_percent", "circuit_breaker", "enable_execute_command", "tags")},
         reads=("describe_services",), names=("service",), count=1, plan=("AWS::ECS::Service {service}",),
         aws_changes=("status", "statusReason", "runningCount", "pendingCount", "desiredCount", "deployments",
                      "events"),
         teardown=("app.yml", "medzen.ehrbase.ecs_fargate_service")),
    Kind("scalable_target", "AWS::ApplicationAutoScaling::ScalableTarget", "app", "ecs",
         {"medzen.ehrbase.ecs_scalable_target": ("cluster", "service", "minimum", "maximum")},
         reads=("describe_scalable_targets", "describe_scheduled_actions"), names=("cluster", "service"), count=1,
         plan=("AWS::ApplicationAutoScaling::ScalableTarget service/{cluster}/{service}",),
         teardown=("app.yml", "medzen.ehrbase.ecs_fargate_service")),  # with the service
    Kind("scaling_policy", "AWS::ApplicationAutoScaling::ScalingPolicy", "app", "ecs",
         {"community.aws.application_autoscaling_policy": (
             "policy_name", "policy_type", "service_namespace", "resource_id", "scalable_dimension", "minimum_tasks",
             "maximum_tasks", "target_tracking_scaling_policy_configuration")},
         reads=("describe_scaling_policies",), names=("scaling_policy_prefix",), count=2,
         plan=("AWS::ApplicationAutoScaling::ScalingPolicy {scaling_policy_prefix}cpu70, {scaling_policy_prefix}memory80",),
         aws_changes=("Alarms",),  # the target-tracking alarms AWS makes and names
         teardown=("app.yml", "medzen.ehrbase.ecs_fargate_service")),  # with the service
    # --- DNS (the route53 role; global, read by every region) -----------------------------------------------------
    Kind("hosted_zone", "AWS::Route53::HostedZone", "dns", "route53",
         {"amazon.aws.route53_zone": ("zone", "comment")},
         reads=("list_hosted_zones_by_name",), scope="global", teardown=("dns.yml", "amazon.aws.route53_zone")),
    Kind("dns_record", "AWS::Route53::RecordSet", "dns", "route53",
         {"amazon.aws.route53": ("zone", "record", "type", "ttl", "value", "alias", "alias_hosted_zone_id",
                                 "alias_evaluate_target_health", "identifier", "failover", "geo_location",
                                 "health_check")},
         reads=("list_resource_record_sets",), scope="global", teardown=("dns.yml", "amazon.aws.route53")),
    Kind("health_check", "AWS::Route53::HealthCheck", "dns", "route53",
         {"amazon.aws.route53_health_check": ("health_check_name", "fqdn", "port", "type", "resource_path",
                                              "request_interval", "failure_threshold", "measure_latency") + TAGS},
         reads=("list_health_checks",), names=("health_check",), scope="global", aws_changes=("HealthCheckVersion",),
         teardown=("dns.yml", "amazon.aws.route53_health_check")),
    # --- monitoring (the monitoring role) -------------------------------------------------------------------------
    Kind("alarm", "AWS::CloudWatch::Alarm", "monitoring", "monitoring",
         {"medzen.ehrbase.cloudwatch_metric_alarms": ("name_prefix", "alarms", "alarm_actions", "ok_actions", "period",
                                                      "evaluation_periods", "datapoints_to_alarm"),
          # The Route53 health-check alarm, in us-east-1 (where Route53's metrics are).
          "amazon.aws.cloudwatch_metric_alarm": (
              "name", "description", "namespace", "metric_name", "dimensions", "statistic", "comparison", "threshold",
              "period", "evaluation_periods", "datapoints_to_alarm", "treat_missing_data", "alarm_actions",
              "ok_actions")},
         reads=("describe_alarms",), names=("alarm_prefix", "health_check_alarm"), count=9,
         aws_changes=("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp",
                      "StateTransitionedTimestamp"),
         teardown=("monitoring.yml", "amazon.aws.cloudwatch_metric_alarm")),
    Kind("alarm_topic", "AWS::SNS::Topic", "monitoring", "monitoring",
         {"community.aws.sns_topic": ("name", "display_name", "subscriptions", "purge_subscriptions") + TAGS,
          # The subscriptions' filter policies (sns_topic never reads them).
          "medzen.ehrbase.sns_subscription_filters": ("topic_arn", "filter_policy")},
         reads=("list_topics", "get_topic_attributes", "list_subscriptions_by_topic", "get_subscription_attributes"),
         names=("alarm_topic",), count=1, aws_changes=("SubscriptionsConfirmed", "SubscriptionsPending",
                                                       "SubscriptionsDeleted"),
         teardown=("monitoring.yml", "community.aws.sns_topic")),
    Kind("dashboard", "AWS::CloudWatch::Dashboard", "monitoring", "monitoring",
         {"medzen.ehrbase.cloudwatch_dashboard": ("name", "widgets", "start")},
         reads=("get_dashboard",), scope="global", teardown=("global.yml", "medzen.ehrbase.cloudwatch_dashboard")),
    Kind("budget", "AWS::Budgets::Budget", "monitoring", "monitoring",
         {"medzen.ehrbase.budget": ("name", "amount", "currency", "cost_filters", "notifications")},
         reads=("describe_budget", "describe_notifications_for_budget"), scope="global",
         aws_changes=("CalculatedSpend", "TimePeriod"), teardown=("global.yml", "medzen.ehrbase.budget")),
)

CATALOGUE = dict((k.key, k) for k in KINDS)


def kind(key):
    """The kind of that key; a reader or a plan that names a kind the catalogue lacks is a bug, said plainly."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError("%r is not a kind of the catalogue (plugins/module_utils/catalogue.py): add it there "
                       "with its module, reads, tier and teardown" % key)


def aws_changes():
    """Every field AWS changes by itself in any kind's answers: never digested."""
    return frozenset(PAGING).union(*[k.aws_changes for k in KINDS])


def twin_kinds():
    """The kinds a retried create can leave twice; the leftovers check looks for each."""
    return sorted(k.key for k in KINDS if k.twins)


# What a warm standby's region has beyond the others (docs/standby.md): its ReplicaLag alarm (the monitoring role).
STANDBY_EXTRA = {"alarm": 1}


def census(azs=2, standby=False):
    """What the design has in one region of a default plan, by kind (AWS's own objects not counted); standby: the
    region is a warm standby."""
    counts = dict((k.key, k.expected(azs)) for k in KINDS if k.scope == "region" and k.expected(azs))
    for key, extra in (STANDBY_EXTRA.items() if standby else ()):
        counts[key] += extra
    return counts


def markdown():
    """docs/catalogue.md's table (tools/catalogue_doc.py writes it; a unit test keeps it current)."""
    rows = ["| kind | AWS type | tier | role (modules) | found by its name (`resource_names`) | declared attributes | "
            "read back with | AWS changes by itself | in a region | teardown |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for k in KINDS:
        where = {"region": "%s" % (k.expected() or "-"), "partner": "in the backup partner region",
                 "global": "global"}[k.scope]
        teardown = k.teardown if isinstance(k.teardown, str) else "%s (`%s`)" % k.teardown
        attributes = ", ".join(k.attributes())
        if k.unread:
            attributes += "; not read back: " + "; ".join("%s (%s)" % item for item in sorted(k.unread.items()))
        rows.append("| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s |" % (
            k.key, k.cfn, k.tier, k.role, ", ".join("`%s`" % m for m in sorted(k.modules)),
            ", ".join("`%s`" % n for n in k.names) or "its domain, zone or global name", attributes,
            ", ".join(k.reads) or "-", ", ".join(k.aws_changes) or "-", where, teardown))
    return "\n".join(rows) + "\n"


# The roles that build a region (creation_plan lists what they make).
BUILDING_ROLES = ("network", "rds", "db_init", "ecs")


def creation_plan(prefix, public, private, domain, region, partner=""):
    """What the region roles create in a region that does not exist yet, as "<type> <name>" lines: check mode cannot
    ask AWS about the resources that hang off a VPC that is not there, so it lists them from the catalogue's kinds
    (catalogue.py), the plan and the naming rule instead."""
    names = resource_names(prefix)
    layout = subnet_layout(public, private, prefix)
    azs = sorted(set(s["az"][-1:] for s in layout))
    lines = []
    for kind in KINDS:
        if kind.scope == "global" or (kind.scope == "partner" and not partner) or kind.role not in BUILDING_ROLES:
            continue
        for template in kind.plan:
            if template == "subnets":
                lines += ["AWS::EC2::Subnet %s %s" % (s["name"], s["cidr"]) for s in layout]
            elif template == "secrets":
                lines += ["%s %s%s" % (kind.cfn, n, " (+ replica in %s)" % partner if partner else "")
                          for n in sorted(names["secrets"].values())]
            else:
                lines += _expand(template, dict(names, domain=domain, region=region, partner=partner), azs)
    return lines


def _expand(template, fields, azs):
    """A plan line, once per AZ when it names a per-AZ resource (a name with {az} in it)."""
    per_az = [n for n, v in fields.items() if isinstance(v, str) and "{az}" in v and "{%s}" % n in template]
    if not per_az:
        return [template.format(**fields)]
    return [template.format(**dict(fields, **dict((n, fields[n].format(az=az)) for n in per_az))) for az in azs]
