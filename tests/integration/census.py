"""Exactly one of every resource the design has, per region and global: what a run that was faulted, killed or
repaired must end with (test_faults.py, test_teardown.py)."""

from helpers import PREFIX, REGIONS, aws

OURS = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
# The design, per region: one VPC with 2 public + 2 private subnets, a NAT gateway and its address per AZ, one
# internet gateway, the default + 3 security groups, the main + public + 2 private route tables, one key, five
# secrets, one database, one ALB and target group, one service on one revision, 9 named alarms.
EXPECTED = {"vpc": 1, "subnet": 4, "nat_gateway": 2, "elastic_ip": 2, "elastic_ip_unassociated": 0,
            "internet_gateway": 1, "internet_gateway_detached": 0, "security_group": 4, "route_table": 4,
            "kms_key": 1, "kms_key_without_alias": 0, "secret": 5, "db_instance": 1, "load_balancer": 1,
            "target_group": 1, "service": 1, "task_definition_revision": 1, "alarm": 9}
EXPECTED_GLOBAL = {"hosted_zone": 1, "health_check": 3, "record_set_names": None}
FAST = ["-e", "ehrbase_region_rollout=parallel"]  # the plain re-runs: all regions at once


def network_census(region):
    ec2 = aws("ec2", region)
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=OURS)["Vpcs"]]
    in_vpcs = [{"Name": "vpc-id", "Values": vpcs}]
    addresses = ec2.describe_addresses()["Addresses"]
    igws = ec2.describe_internet_gateways()["InternetGateways"]
    return {
        "vpc": len(vpcs),
        "subnet": len(ec2.describe_subnets(Filters=in_vpcs)["Subnets"]),
        "nat_gateway": len([n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]),
        "elastic_ip": len(addresses),
        "elastic_ip_unassociated": len([a for a in addresses if not a.get("AssociationId")]),
        "internet_gateway": len([i for i in igws if any(t["Value"] == PREFIX[region] + "-igw" for t in i.get("Tags", []))]),
        "internet_gateway_detached": len([i for i in igws if not i.get("Attachments")]),
        "security_group": len(ec2.describe_security_groups(Filters=in_vpcs)["SecurityGroups"]),
        "route_table": len(ec2.describe_route_tables(Filters=in_vpcs)["RouteTables"]),
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


def app_census(region):
    p = PREFIX[region]
    ecs, elb = aws("ecs", region), aws("elbv2", region)
    services = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"]
    return {
        "secret": len([s for s in aws("secretsmanager", region).list_secrets()["SecretList"]
                       if s["Name"].startswith(p + "/")]),
        "db_instance": len(aws("rds", region).describe_db_instances()["DBInstances"]),
        "load_balancer": len(elb.describe_load_balancers()["LoadBalancers"]),
        "target_group": len(elb.describe_target_groups()["TargetGroups"]),
        "service": len([s for s in services if s["status"] == "ACTIVE"]),
        "task_definition_revision": len(ecs.list_task_definitions(familyPrefix=p + "-ehrbase",
                                                                  status="ACTIVE")["taskDefinitionArns"]),
        # Our named alarms. Target-tracking alarms are not counted: moto makes two new ones on every PutScalingPolicy,
        # also one the SDK retried after a lost answer (AWS updates the policy and keeps its alarms).
        "alarm": len(aws("cloudwatch", region).describe_alarms(AlarmNamePrefix=p + "-")["MetricAlarms"]),
    }


def region_census(region):
    return dict(network_census(region), **region_keys(region), **app_census(region))


def global_census():
    r53 = aws("route53", "us-east-1")
    zones = r53.list_hosted_zones()["HostedZones"]
    names = []
    for zone in zones:
        names += [(r["Name"], r["Type"], r.get("SetIdentifier")) for r in
                  r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]]
    return {"hosted_zone": len(zones), "health_check": len(r53.list_health_checks()["HealthChecks"]),
            "record_set_names": len(names) == len(set(names)) or names}


def assert_exactly_one_of_each():
    wrong = {}
    for region in REGIONS:
        found = region_census(region)
        diff = {k: (found[k], v) for k, v in EXPECTED.items() if found[k] != v}
        if diff:
            wrong[region] = diff
    found = global_census()
    diff = {k: (found[k], v) for k, v in EXPECTED_GLOBAL.items() if v is not None and found[k] != v}
    if found["record_set_names"] is not True:
        diff["record_set_names"] = found["record_set_names"]
    if diff:
        wrong["global"] = diff
    assert not wrong, "resources (found, expected): %s" % wrong
