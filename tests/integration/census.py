"""Exactly one of every resource the design has, per region and global: what a run that was faulted, killed or
repaired must end with (test_faults.py, test_teardown.py)."""

from ansible_collections.medzen.ehrbase.plugins.module_utils import catalogue
from helpers import PREFIX, REGIONS, STANDBY, aws

OURS = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
# The design, per region, from the catalogue (plugins/module_utils/catalogue.py: one VPC with 2 public + 2 private
# subnets, a NAT gateway and its address per AZ, ...), and what must never be there at all. AWS's own objects (the
# VPC's default security group and main route table) are not counted.
NEVER = dict(elastic_ip_unassociated=0, internet_gateway_detached=0, kms_key_without_alias=0)
EXPECTED = dict(catalogue.census(), **NEVER)
EXPECTED_GLOBAL = {"hosted_zone": 1, "health_check": 3, "record_set_names": None}
FAST = ["-e", "ehrbase_region_rollout=parallel"]  # the plain re-runs: all regions at once


def network_census(region):
    ec2 = aws("ec2", region)
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=OURS)["Vpcs"]]
    in_vpcs = [{"Name": "vpc-id", "Values": vpcs}]
    tables = ec2.describe_route_tables(Filters=in_vpcs)["RouteTables"]
    return dict(gateway_census(region), **{
        "vpc": len(vpcs),
        "subnet": len(ec2.describe_subnets(Filters=in_vpcs)["Subnets"]),
        "security_group": len([g for g in ec2.describe_security_groups(Filters=in_vpcs)["SecurityGroups"]
                               if g["GroupName"] != "default"]),
        "route_table": len([t for t in tables if not any(a.get("Main") for a in t.get("Associations", []))]),
    })


def gateway_census(region):
    ec2 = aws("ec2", region)
    addresses = ec2.describe_addresses()["Addresses"]
    igws = ec2.describe_internet_gateways()["InternetGateways"]
    return {
        "nat_gateway": len([n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]),
        "elastic_ip": len(addresses),
        "elastic_ip_unassociated": len([a for a in addresses if not a.get("AssociationId")]),
        "internet_gateway": len([i for i in igws if any(t["Value"] == PREFIX[region] + "-igw" for t in i.get("Tags", []))]),
        "internet_gateway_detached": len([i for i in igws if not i.get("Attachments")]),
    }


def region_keys(region):
    """Enabled customer keys of the region itself (partners' copy keys, tagged CopyOf, are theirs)."""
    kms = aws("kms", region)
    keys = []
    for k in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags", [])}
        if meta["KeyState"] == "Enabled" and meta["KeyManager"] == "CUSTOMER" and not tags.get("CopyOf"):
            keys.append(k["KeyId"])
    aliased = {a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    return {"kms_key": len(keys), "kms_key_without_alias": len([k for k in keys if k not in aliased])}


def data_census(region):
    p, rds = PREFIX[region], aws("rds", region)
    return {
        "secret": len([s for s in aws("secretsmanager", region).list_secrets()["SecretList"]
                       if s["Name"].startswith(p + "/")]),
        "db_instance": len(rds.describe_db_instances()["DBInstances"]),
        "db_subnet_group": len(rds.describe_db_subnet_groups()["DBSubnetGroups"]),
        "db_parameter_group": len([g for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
                                   if g["DBParameterGroupName"].startswith(p + "-")]),
    }


def app_census(region):
    p = PREFIX[region]
    ecs, elb, scaling = aws("ecs", region), aws("elbv2", region), aws("application-autoscaling", region)
    services = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"]
    roles = aws("iam", region).list_roles()["Roles"]
    return {
        "log_group": len(aws("logs", region).describe_log_groups(logGroupNamePrefix="/ecs/" + p)["logGroups"]),
        "iam_role": len([r for r in roles if r["RoleName"].startswith(p + "-")]),
        "ecs_cluster": len([c for c in ecs.describe_clusters(clusters=[p + "-cluster"])["clusters"]
                            if c["status"] == "ACTIVE"]),
        "certificate": len(aws("acm", region).list_certificates()["CertificateSummaryList"]),
        "load_balancer": len(elb.describe_load_balancers()["LoadBalancers"]),
        "target_group": len(elb.describe_target_groups()["TargetGroups"]),
        "ecs_service": len([s for s in services if s["status"] == "ACTIVE"]),
        "task_definition": len(ecs.list_task_definitions(familyPrefix=p + "-ehrbase",
                                                         status="ACTIVE")["taskDefinitionArns"]),
        "scalable_target": len(scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]),
        "scaling_policy": len(scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]),
        # Our named alarms. Target-tracking alarms are not counted: moto makes two new ones on every PutScalingPolicy,
        # also one the SDK retried after a lost answer (AWS updates the policy and keeps its alarms).
        "alarm": len(aws("cloudwatch", region).describe_alarms(AlarmNamePrefix=p + "-")["MetricAlarms"]),
        "alarm_topic": len([t for t in aws("sns", region).list_topics()["Topics"]
                            if t["TopicArn"].rsplit(":", 1)[-1].startswith(p + "-")]),
    }


def region_census(region):
    found = dict(network_census(region), **region_keys(region), **data_census(region), **app_census(region))
    uncounted = sorted(set(EXPECTED) - set(found))
    assert not uncounted, "the catalogue has kinds the census does not count: %s (tests/integration/census.py)" % uncounted
    return found


def global_census():
    r53 = aws("route53", "us-east-1")
    zones = r53.list_hosted_zones()["HostedZones"]
    names = []
    for zone in zones:
        names += [(r["Name"], r["Type"], r.get("SetIdentifier")) for r in
                  r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]]
    return {"hosted_zone": len(zones), "health_check": len(r53.list_health_checks()["HealthChecks"]),
            "record_set_names": len(names) == len(set(names)) or names}


def assert_exactly_one_of_each(standby=None):
    """standby: the plan's ehrbase_standby (the inventory's unless given; {} for a plan without one)."""
    standby = STANDBY if standby is None else standby
    wrong = {}
    for region in REGIONS:
        found = region_census(region)
        expected = dict(catalogue.census(standby=region in standby), **NEVER)
        diff = {k: (found[k], v) for k, v in expected.items() if found[k] != v}
        if diff:
            wrong[region] = diff
    found = global_census()
    diff = {k: (found[k], v) for k, v in EXPECTED_GLOBAL.items() if v is not None and found[k] != v}
    if found["record_set_names"] is not True:
        diff["record_set_names"] = found["record_set_names"]
    if diff:
        wrong["global"] = diff
    assert not wrong, "resources (found, expected): %s" % wrong
