# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The converged-state seal behind site.yml's fast no-op path.

After a complete, successful site.yml run a region is *sealed*: one SSM parameter in that region holds a digest of the
run's inputs (inventory and extra variables, and the collection's own code) and a digest of every resource the
collection manages there, read with the describe calls below, plus the outputs the roles published (ids and names,
never a secret). The next run reads the same resources again - about sixty reads per region, side by side - and
when the inputs and every resource digest equal the seal, the roles would change nothing: they are idempotent on
those inputs from that state (tests/integration prove both halves), so the run may skip them and use the sealed
outputs. Any difference names the resources that differ and the run goes the normal way, which reports and corrects
the drift; the run after it seals again.

Each resource is of a kind of the catalogue (catalogue.py), which gives its tier (network, database, app, dns,
monitoring) and the fields AWS changes by itself; the reader reads every kind the catalogue says it reads. The seal keeps a
second inputs digest without the app tier's variables (ecs_*). When a run changes only the app tier (a release: a new
ecs_ehrbase_version) and the network and database tiers still match the seal, the roles that build those tiers would
change nothing either: the run may skip them too and converge the app tier alone (base_in_sync).

A digest covers a resource's whole describe answer except what AWS changes by itself (status, counters, timestamps,
the ECS deployment log, the task count autoscaling sets - only whether it is inside the autoscaling range): a field
nobody listed here is compared, so an attribute the roles manage cannot drift unseen. Anything unlisted that moves
by itself only costs a normal run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.backup_copies import active_copy, list_copies
from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import aws_changes, kind
from ansible_collections.medzen.ehrbase.plugins.module_utils.declared import (
    DECLARED, filter_policy, finding, key_policy_findings, role_findings)
from ansible_collections.medzen.ehrbase.plugins.module_utils.names import RESOURCE_NAMES
from ansible_collections.medzen.ehrbase.plugins.module_utils.reads import Reader, plain

SEAL_VERSION = 2
# The tiers a release does not touch: built by the network, rds and db_init roles, before the app tier.
BASE_TIERS = ("network", "database")
# What AWS moves by itself, by kind (catalogue.py); never part of a digest.
VOLATILE = aws_changes()
VOLATILE_SUFFIXES = ("Date", "Time", "Timestamp", "At")


def normalized(value):
    """A describe answer without what AWS moves by itself, JSON-safe."""
    if isinstance(value, dict):
        return dict((k, normalized(v)) for k, v in value.items()
                    if k not in VOLATILE and not k.endswith(VOLATILE_SUFFIXES))
    if isinstance(value, (list, tuple)):
        return [normalized(v) for v in value]
    return plain(value)


def digest(value):
    text = json.dumps(normalized(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def tag_value(obj, key="Name"):
    tags = obj.get("Tags") or obj.get("TagList") or []
    return dict((t["Key"], t["Value"]) for t in tags).get(key, "")


def pages(client, method, key, **kwargs):
    """Every page of a list/describe call (the paginators do not take aws_retry; the client's calls do)."""
    items = []
    answer = getattr(client, method)(aws_retry=True, **kwargs)
    items.extend(answer.get(key, []))
    while answer.get("NextToken"):
        answer = getattr(client, method)(aws_retry=True, NextToken=answer["NextToken"], **kwargs)
        items.extend(answer.get(key, []))
    return items


def missing(error):
    code = error.response.get("Error", {}).get("Code", "") if hasattr(error, "response") else ""
    return "NotFound" in code or code in ("ResourceNotFoundException", "NoSuchEntity", "DBInstanceNotFound",
                                          "DBSubnetGroupNotFoundFault", "DBParameterGroupNotFound",
                                          "LoadBalancerNotFound", "TargetGroupNotFound", "ParameterNotFound",
                                          "ResourceNotFound", "NotFoundException", "InvalidParameterValue")


class Snapshot(Reader):
    """The region's managed resources, read once: {key: digest}. Keys name the resource for an operator.

    Reader's retrying clients, one per (service, region); unlike a report, a failed read fails the compare.
    """

    def __init__(self, module, spec):
        super(Snapshot, self).__init__(module)
        self.spec = spec
        self.names = spec["names"]
        self.items = {}
        self.tiers = {}
        # Differences from what the collection holds exclusively (declared.py): never sealed.
        self.findings = []
        self._lock = threading.Lock()

    def call(self, service, method, region=None, **kwargs):
        return getattr(self.client(service, region), method)(aws_retry=True, **kwargs)

    def put(self, kind_key, key, value):
        """One resource (or a part of one a call of its own reads) of a kind of the catalogue, by an operator's name."""
        tier = kind(kind_key).tier
        with self._lock:
            self.items[key] = digest(value)
            self.tiers[key] = tier

    def take(self):
        # Clients are made here, one thread: boto3's session is not safe to create clients from side by side.
        for service in ("ec2", "rds", "kms", "secretsmanager", "ecs", "iam", "logs", "elbv2", "acm",
                        "application-autoscaling", "cloudwatch", "sns", "route53"):
            self.client(service)
        for service in ("cloudwatch", "sns"):
            self.client(service, "us-east-1")
        self.client("cloudwatch", self.spec["dashboard_region"])
        self.client("budgets", "us-east-1")
        self.client("sts")
        if self.spec.get("backup_copy_region"):
            self.client("rds", self.spec["backup_copy_region"])
        parts = (self.network, self.database, self.app, self.dns, self.monitoring)
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            for future in [pool.submit(part) for part in parts]:
                future.result()
        return self.items, self.tiers, sorted(self.findings)

    # --- network -----------------------------------------------------------------------------------------------
    def network(self):
        vpcs = self.call("ec2", "describe_vpcs", Filters=[{"Name": "tag:Name", "Values": [self.names["vpc"]]}])["Vpcs"]
        if len(vpcs) > 1:
            # CreateVpc takes no idempotency token: a create the SDK retried after a lost answer makes a twin, and the
            # run that made it names it here instead of sealing over it.
            self.findings.append(finding("duplicate", "vpc %s" % self.names["vpc"], "%d VPCs of this name (%s)" % (
                len(vpcs), ", ".join(sorted(v["VpcId"] for v in vpcs)))))
        for vpc in vpcs:
            # DNS support and hostnames are attributes describe_vpcs does not return.
            attributes = dict((name, self.call("ec2", "describe_vpc_attribute", VpcId=vpc["VpcId"], Attribute=name)
                               .get(name[0].upper() + name[1:], {}).get("Value"))
                              for name in ("enableDnsSupport", "enableDnsHostnames"))
            self.put("vpc", "vpc %s" % tag_value(vpc), {"vpc": vpc, "attributes": attributes})
            for name, value in sorted(attributes.items()):
                if value != DECLARED["vpc_attributes"][name]:
                    self.findings.append(finding("vpc", "vpc %s" % tag_value(vpc), "%s is %s, declared %s"
                                                 % (name, value, DECLARED["vpc_attributes"][name])))
        ids = [v["VpcId"] for v in vpcs]
        if ids:
            self.vpc_contents(ids)
        for address in self.call("ec2", "describe_addresses", Filters=[{"Name": "domain", "Values": ["vpc"]}])["Addresses"]:
            if tag_value(address).startswith(self.names["nat_eip"].split("{az}")[0]):
                self.put("elastic_ip", "Elastic IP %s" % tag_value(address), address)

    def vpc_contents(self, ids):
        in_vpc = [{"Name": "vpc-id", "Values": ids}]
        ec2 = self.client("ec2")
        listed = (("subnet", "subnet", "describe_subnets", "Subnets", "SubnetId"),
                  ("route_table", "route table", "describe_route_tables", "RouteTables", "RouteTableId"))
        for kind_key, what, method, key, id_key in listed:
            for item in pages(ec2, method, key, Filters=in_vpc):
                self.put(kind_key, "%s %s" % (what, tag_value(item) or item[id_key]), item)
        for group in pages(ec2, "describe_security_groups", "SecurityGroups", Filters=in_vpc):
            self.put("security_group", "security group %s" % group["GroupName"], group)
        for nat in pages(ec2, "describe_nat_gateways", "NatGateways", Filter=in_vpc):
            if nat.get("State") not in ("deleted", "deleting"):
                self.put("nat_gateway", "NAT gateway %s" % (tag_value(nat) or nat["NatGatewayId"]), nat)
        igws = self.call("ec2", "describe_internet_gateways",
                         Filters=[{"Name": "attachment.vpc-id", "Values": ids}])["InternetGateways"]
        for igw in igws:
            self.put("internet_gateway", "internet gateway %s" % (tag_value(igw) or igw["InternetGatewayId"]), igw)

    # --- data tier ---------------------------------------------------------------------------------------------
    def database(self):
        rds = self.client("rds")
        dbs = pages(rds, "describe_db_instances", "DBInstances",
                    Filters=[{"Name": "db-instance-id", "Values": [self.names["db"]]}])
        for db in dbs:
            self.put("db_instance", "database %s" % db["DBInstanceIdentifier"], db)
        self.guarded("db_subnet_group", "database subnet group %s" % self.names["db_subnet_group"], lambda: self.call(
            "rds", "describe_db_subnet_groups", DBSubnetGroupName=self.names["db_subnet_group"])["DBSubnetGroups"])
        group = self.spec["db_parameter_group"]
        if self.guarded("db_parameter_group", "database parameter group %s" % group, lambda: self.call(
                "rds", "describe_db_parameter_groups", DBParameterGroupName=group)["DBParameterGroups"]):
            self.put("db_parameter_group", "database parameters of %s" % group,
                     pages(rds, "describe_db_parameters", "Parameters", DBParameterGroupName=group, Source="user"))
        aliases = pages(self.client("kms"), "list_aliases", "Aliases")
        region_key = None
        for alias in aliases:
            if alias["AliasName"].startswith("alias/" + self.spec["kms_alias_prefix"]) and alias.get("TargetKeyId"):
                key_id = alias["TargetKeyId"]
                key = self.call("kms", "describe_key", KeyId=key_id)["KeyMetadata"]
                policy = self.call("kms", "get_key_policy", KeyId=key_id, PolicyName="default")["Policy"]
                # The policy as a document: the same statements in another spelling are the same policy.
                # Another region's backup-copy key held here (its alias ends like backup_copy_kms_alias).
                copy_key = alias["AliasName"].endswith(RESOURCE_NAMES["backup_copy_kms_alias"].split("{p}")[1])
                self.put("backup_copy_key" if copy_key else "kms_key", "KMS key %s" % alias["AliasName"], {
                    "alias": alias, "key": key, "policy": json.loads(policy),
                    "rotation": self.call("kms", "get_key_rotation_status", KeyId=key_id).get("KeyRotationEnabled")})
                if alias["AliasName"] == "alias/" + self.names["kms_alias"]:
                    region_key = key
                    self.findings.extend(key_policy_findings(alias["AliasName"], key["Arn"], policy))
        for secret in sorted(self.spec["secret_names"]):
            self.secret(secret, region_key)
        if self.spec.get("backup_copy_region"):
            self.backup_replication(dbs)

    def backup_replication(self, dbs):
        """The replication of the database's backups into the partner region (read there; describe_db_instances in
        the region does not say whether it runs)."""
        partner = self.spec["backup_copy_region"]
        for db in dbs:
            running = active_copy(list_copies(self.client("rds", partner), db["DBInstanceArn"]))
            what = "backup copies of %s in %s" % (db["DBInstanceIdentifier"], partner)
            self.put("backup_replication", what, dict((k, running.get(k)) for k in (
                "DBInstanceArn", "BackupRetentionPeriod", "KmsKeyId", "Encrypted")) if running else "not replicating")
            if not running:
                self.findings.append(finding("backup", what, "the replication is not running, so no new backup "
                                             "reaches %s" % partner))

    def secret(self, name, region_key):
        """A secret, its resource policy (a call of its own) and whether the region key encrypts it."""
        found = self.guarded("secret", "secret %s" % name, lambda: self.call("secretsmanager", "describe_secret", SecretId=name))
        if not found:
            return
        policy = self.call("secretsmanager", "get_resource_policy", SecretId=name).get("ResourcePolicy")
        self.put("secret", "resource policy of secret %s" % name, policy or "none")
        if policy and DECLARED["secret_resource_policy"] is None:
            self.findings.append(finding("secret_policy", "secret %s" % name, "it has a resource policy nobody declared"))
        key = found.get("KmsKeyId") or "alias/aws/secretsmanager"
        if region_key and key not in (region_key["KeyId"], region_key["Arn"], "alias/" + self.names["kms_alias"]):
            self.findings.append(finding("secret_key", "secret %s" % name, "encrypted with %s, not the region key %s"
                                         % (key, "alias/" + self.names["kms_alias"])))

    def guarded(self, kind_key, key, read):
        """Read one resource by name and return it; one that is not there is recorded as absent (and None returned)."""
        try:
            value = read()
        except Exception as e:  # pylint: disable=broad-except
            if not missing(e):
                raise
            value = None
        value = None if value in ([], None) else value
        self.put(kind_key, key, "absent" if value is None else value)
        return value

    # --- app tier ----------------------------------------------------------------------------------------------
    def app(self):
        names = self.names
        clusters = self.call("ecs", "describe_clusters", clusters=[names["cluster"]],
                             include=["SETTINGS", "CONFIGURATIONS", "TAGS"])["clusters"]
        self.put("ecs_cluster", "ECS cluster %s" % names["cluster"], [c for c in clusters if c.get("status") != "INACTIVE"])
        services = self.call("ecs", "describe_services", cluster=names["cluster"], services=[names["service"]],
                             include=["TAGS"]).get("services", []) if clusters else []
        # ECS Exec off: AWS leaves the field out of some answers, and off is off.
        services = [dict(s, enableExecuteCommand=bool(s.get("enableExecuteCommand")))
                    for s in services if s.get("status") != "INACTIVE"]
        self.put("ecs_service", "ECS service %s" % names["service"], services)
        if any(s.get("enableExecuteCommand", False) != DECLARED["ecs_exec"] for s in services):
            self.findings.append(finding("ecs_exec", "ECS service %s" % names["service"], "ECS Exec is turned on"))
        for service in services:
            self.put("task_definition", "task definition of %s" % names["service"], self.call(
                "ecs", "describe_task_definition", taskDefinition=service["taskDefinition"], include=["TAGS"]))
        self.put("task_definition", "task definition revisions %s" % names["task_family"], pages(
            self.client("ecs"), "list_task_definitions", "taskDefinitionArns", familyPrefix=names["task_family"],
            status="ACTIVE"))
        self.iam_roles()
        self.put("log_group", "log group %s" % names["log_group"], [g for g in self.call(
            "logs", "describe_log_groups", logGroupNamePrefix=names["log_group"])["logGroups"]
            if g["logGroupName"] == names["log_group"]])
        self.load_balancer()
        self.autoscaling(services)
        for cert in pages(self.client("acm"), "list_certificates", "CertificateSummaryList"):
            if cert.get("DomainName") in self.spec["certificate_domains"]:
                self.put("certificate", "certificate %s" % cert["DomainName"], self.call(
                    "acm", "describe_certificate", CertificateArn=cert["CertificateArn"])["Certificate"])

    def iam_roles(self):
        names = self.names
        for key, role in (("execution_role", names["execution_role"]), ("task_role", names["task_role"])):
            if self.guarded("iam_role", "IAM role %s" % role, lambda r=role: self.call("iam", "get_role", RoleName=r)["Role"]):
                inline = self.call("iam", "list_role_policies", RoleName=role)["PolicyNames"]
                attached = self.call("iam", "list_attached_role_policies", RoleName=role)["AttachedPolicies"]
                self.put("iam_role", "IAM policies of %s" % role, {
                    "inline": dict((p, self.call("iam", "get_role_policy", RoleName=role, PolicyName=p)["PolicyDocument"])
                                   for p in inline),
                    "attached": attached})
                self.findings.extend(role_findings(key, role, [a["PolicyArn"] for a in attached], inline))

    def autoscaling(self, services):
        names = self.names
        target = "service/%s/%s" % (names["cluster"], names["service"])
        ranges = self.call("application-autoscaling", "describe_scalable_targets", ServiceNamespace="ecs",
                           ResourceIds=[target])["ScalableTargets"]
        self.put("scalable_target", "scalable target %s" % target, ranges)
        # The task count is autoscaling's to set (not digested), but the roles put it back inside the range.
        self.put("ecs_service", "task count of %s inside its range" % names["service"], [
            r["MinCapacity"] <= s["desiredCount"] <= r["MaxCapacity"] for r in ranges for s in services])
        self.put("scaling_policy", "scaling policies of %s" % target, self.call(
            "application-autoscaling", "describe_scaling_policies", ServiceNamespace="ecs", ResourceId=target)
            ["ScalingPolicies"])
        # None is declared: one added by hand (the service at 0 every evening) is drift.
        actions = self.call("application-autoscaling", "describe_scheduled_actions", ServiceNamespace="ecs",
                            ResourceId=target)["ScheduledActions"]
        self.put("scalable_target", "scheduled actions of %s" % target, actions)
        if actions and not DECLARED["scheduled_actions"]:
            self.findings.append(finding("schedule", "scalable target %s" % target, "scheduled actions nobody declared: %s"
                                         % ", ".join(sorted(a["ScheduledActionName"] for a in actions))))

    def load_balancer(self):
        names = self.names
        albs = self.guarded("load_balancer", "load balancer %s" % names["alb"], lambda: self.call(
            "elbv2", "describe_load_balancers", Names=[names["alb"]])["LoadBalancers"]) or []
        groups = self.guarded("target_group", "target group %s" % names["target_group"], lambda: self.call(
            "elbv2", "describe_target_groups", Names=[names["target_group"]])["TargetGroups"]) or []
        arns = [a["LoadBalancerArn"] for a in albs] + [g["TargetGroupArn"] for g in groups]
        if arns:
            self.put("load_balancer", "load balancer and target group tags", self.call("elbv2", "describe_tags", ResourceArns=arns))
        for alb in albs:
            arn = alb["LoadBalancerArn"]
            self.put("load_balancer", "attributes of %s" % names["alb"], self.call(
                "elbv2", "describe_load_balancer_attributes", LoadBalancerArn=arn)["Attributes"])
            listeners = self.call("elbv2", "describe_listeners", LoadBalancerArn=arn)["Listeners"]
            for listener in listeners:
                self.put("load_balancer", "listener %s:%s" % (names["alb"], listener.get("Port")), {
                    "listener": listener,
                    "rules": self.call("elbv2", "describe_rules", ListenerArn=listener["ListenerArn"])["Rules"]})
        for group in groups:
            self.put("target_group", "attributes of %s" % names["target_group"], self.call(
                "elbv2", "describe_target_group_attributes", TargetGroupArn=group["TargetGroupArn"])["Attributes"])

    # --- DNS and monitoring ------------------------------------------------------------------------------------
    def dns(self):
        zones = self.call("route53", "list_hosted_zones_by_name", DNSName=self.spec["zone_name"])["HostedZones"]
        zones = [z for z in zones if z["Name"].rstrip(".") == self.spec["zone_name"].rstrip(".")
                 and not z.get("Config", {}).get("PrivateZone")]
        self.put("hosted_zone", "hosted zone %s" % self.spec["zone_name"], zones)
        for zone in zones:
            records, kwargs = [], {}
            while True:
                answer = self.call("route53", "list_resource_record_sets", HostedZoneId=zone["Id"], **kwargs)
                records.extend(answer["ResourceRecordSets"])
                if not answer.get("IsTruncated"):
                    break
                kwargs = dict((k, answer[n]) for k, n in (("StartRecordName", "NextRecordName"),
                                                          ("StartRecordType", "NextRecordType"),
                                                          ("StartRecordIdentifier", "NextRecordIdentifier"))
                              if answer.get(n))
            for record in records:
                name = "DNS record %s %s%s" % (record["Name"], record["Type"],
                                               " " + record["SetIdentifier"] if record.get("SetIdentifier") else "")
                self.put("dns_record", name, record)
        checks, kwargs = [], {}
        while True:
            answer = self.call("route53", "list_health_checks", **kwargs)
            checks.extend(answer["HealthChecks"])
            if not answer.get("IsTruncated"):
                break
            kwargs = {"Marker": answer["NextMarker"]}
        for check in checks:
            fqdn = check.get("HealthCheckConfig", {}).get("FullyQualifiedDomainName", "")
            if fqdn.endswith(self.spec["zone_name"].rstrip(".")):
                self.put("health_check", "health check %s %s" % (fqdn, check.get("HealthCheckConfig", {}).get("ResourcePath", "")), check)

    def monitoring(self):
        spec = self.spec
        alarms = self.call("cloudwatch", "describe_alarms", AlarmNamePrefix=self.names["alarm_prefix"])
        for alarm in alarms.get("MetricAlarms", []) + alarms.get("CompositeAlarms", []):
            self.put("alarm", "alarm %s" % alarm["AlarmName"], alarm)
        global_alarms = self.call("cloudwatch", "describe_alarms", region="us-east-1",
                                  AlarmNames=[self.names["health_check_alarm"]])
        self.put("alarm", "alarm %s (us-east-1)" % self.names["health_check_alarm"], global_alarms.get("MetricAlarms", []))
        for region, topic in ((None, self.names["alarm_topic"]), ("us-east-1", spec["route53_alarm_topic"])):
            self.topic(region, topic)
        self.guarded("dashboard", "dashboard %s" % spec["dashboard"], lambda: self.call(
            "cloudwatch", "get_dashboard", region=spec["dashboard_region"], DashboardName=spec["dashboard"])["DashboardBody"])
        account = self.call("sts", "get_caller_identity")["Account"]
        if self.guarded("budget", "budget %s" % spec["budget"], lambda: self.call(
                "budgets", "describe_budget", region="us-east-1", AccountId=account, BudgetName=spec["budget"])["Budget"]):
            self.put("budget", "budget notifications %s" % spec["budget"], self.call(
                "budgets", "describe_notifications_for_budget", region="us-east-1", AccountId=account,
                BudgetName=spec["budget"]).get("Notifications", []))

    def topic(self, region, name):
        topics = pages(self.client("sns", region), "list_topics", "Topics")
        arns = [t["TopicArn"] for t in topics if t["TopicArn"].rsplit(":", 1)[-1] == name]
        where = " (us-east-1)" if region else ""
        self.put("alarm_topic", "topic %s%s" % (name, where), len(arns))
        for arn in arns:
            self.put("alarm_topic", "attributes of topic %s%s" % (name, where),
                     self.call("sns", "get_topic_attributes", region=region, TopicArn=arn)["Attributes"])
            subscriptions = self.call("sns", "list_subscriptions_by_topic", region=region, TopicArn=arn)["Subscriptions"]
            self.put("alarm_topic", "subscriptions of topic %s%s" % (name, where), sorted(
                (s["Protocol"], s["Endpoint"]) for s in subscriptions))
            for sub in subscriptions:
                self.subscription(sub, region, "topic %s%s" % (name, where))

    def subscription(self, sub, region, topic):
        """A subscription's filter policy (an attribute call of its own; a pending one has no ARN to ask with)."""
        if not sub["SubscriptionArn"].startswith("arn:"):
            return
        attributes = self.call("sns", "get_subscription_attributes", region=region,
                               SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        policy = filter_policy(attributes)
        self.put("alarm_topic", "filter policy of %s to %s" % (topic, sub["Endpoint"]), policy or "none")
        if policy != DECLARED["subscription_filter_policy"]:
            self.findings.append(finding("subscription", "subscription of %s to %s" % (topic, sub["Endpoint"]),
                                         "a filter policy nobody declared (%s) may drop alarms"
                                         % json.dumps(policy, sort_keys=True)))


def drift(sealed, now):
    """What differs between the sealed digests and the ones read now, in words."""
    lines = []
    for key in sorted(set(sealed) | set(now)):
        if key not in now:
            lines.append("gone: %s" % key)
        elif key not in sealed:
            lines.append("new: %s" % key)
        elif sealed[key] != now[key]:
            lines.append("changed: %s" % key)
    return lines


def base_in_sync(seal, base_inputs_digest, items, tiers):
    """The network and database tiers match the seal, and every input but the app tier's is the seal's."""
    if seal is None or not base_inputs_digest or seal.get("base_inputs_digest") != base_inputs_digest:
        return False
    sealed, sealed_tiers = seal["items"], seal.get("tiers", {})
    for key in set(sealed) | set(items):
        if tiers.get(key, sealed_tiers.get(key)) in BASE_TIERS and sealed.get(key) != items.get(key):
            return False
    return True


def encode(seal):
    return "z1:" + base64.b64encode(zlib.compress(json.dumps(seal, sort_keys=True).encode("utf-8"), 9)).decode("ascii")


def decode(text):
    if not text.startswith("z1:"):
        raise ValueError("not a seal of this collection")
    return json.loads(zlib.decompress(base64.b64decode(text[3:])).decode("utf-8"))


def read_seal(module, name):
    """The region's seal, or None (never sealed, or written by another version of the format)."""
    ssm = module.client("ssm", retry_decorator=RETRY)
    try:
        text = ssm.get_parameter(aws_retry=True, Name=name)["Parameter"]["Value"]
    except Exception as e:  # pylint: disable=broad-except
        if missing(e):
            return None
        raise
    try:
        seal = decode(text)
    except (ValueError, TypeError, zlib.error):
        return None
    return seal if seal.get("version") == SEAL_VERSION else None


# The options both modules take: what to read (names from the resource_names/global_names filters).
ARGUMENT_SPEC = dict(
    parameter=dict(type="str", required=True),
    inputs_digest=dict(type="str", required=True, no_log=False),
    base_inputs_digest=dict(type="str", default="", no_log=False),
    names=dict(type="dict", required=True),
    zone_name=dict(type="str", required=True),
    domain=dict(type="str", required=True),
    db_parameter_group=dict(type="str", required=True),
    kms_alias_prefix=dict(type="str", required=True, no_log=False),
    dashboard=dict(type="str", required=True),
    dashboard_region=dict(type="str", required=True),
    budget=dict(type="str", required=True),
    route53_alarm_topic=dict(type="str", required=True),
    backup_copy_region=dict(type="str", default=""),
)


def snapshot(module):
    params = module.params
    spec = dict((k, params[k]) for k in ARGUMENT_SPEC)
    spec["secret_names"] = sorted(params["names"]["secrets"].values())
    spec["certificate_domains"] = [params["domain"]]
    return Snapshot(module, spec).take()
