"""ehrbase_leftovers through ansible against the test emulator: what is found, what is adopted, what is removed.

The objects are made with boto3 the way an interrupted run leaves them (same Name tags and deployment tags).
"""

import pytest

from helpers import aws, run_module

REGION = "eu-west-1"
PREFIX = "lefttest-euw1"
TAGS = {"ManagedBy": "ansible/medzen.ehrbase", "Environment": "lefttest"}


def tagspec(kind, name):
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]
             + [{"Key": k, "Value": v} for k, v in TAGS.items()]}]


def scan(remove=False, check_mode=False):
    rc, res, out = run_module("medzen.ehrbase.ehrbase_leftovers",
                              {"region": REGION, "name_prefix": PREFIX, "kms_alias": PREFIX + "-ehrbase",
                               "tags": TAGS, "target_groups": [PREFIX + "-tg"], "remove": remove},
                              check_mode=check_mode)
    assert rc == 0 and res is not None, out
    return res


def vpc(with_subnet, cidr="10.40.0.0/16"):
    ec2 = aws("ec2", REGION)
    vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=tagspec("vpc", PREFIX + "-vpc"))["Vpc"]["VpcId"]
    if with_subnet:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr.replace(".0.0/16", ".1.0/24"))
    return vpc_id


def vpcs():
    return [v["VpcId"] for v in aws("ec2", REGION).describe_vpcs(
        Filters=[{"Name": "tag:Name", "Values": [PREFIX + "-vpc"]}])["Vpcs"]]


def test_an_empty_second_vpc_is_named_and_removed_only_when_asked_and_never_one_that_holds_something(emulator):
    kept, spare = vpc(True), vpc(False)
    found = scan()
    assert found["changed"] is False
    assert [(f["type"], f["id"], f["removable"]) for f in found["findings"]] == [("vpc", spare, True)]
    assert "a second VPC of the same name" in found["problems"][0] and "subnets: 1" in found["problems"][0]

    assert scan(remove=True, check_mode=True)["removed"][0]["id"] == spare  # check mode: says, does not remove
    assert sorted(vpcs()) == sorted([kept, spare])
    assert scan(remove=True)["changed"] is True
    assert vpcs() == [kept]
    again = scan(remove=True)
    assert again["changed"] is False and again["findings"] == []  # nothing left: no change

    other = vpc(True, cidr="10.41.0.0/16")  # two VPCs that both hold something: which is ours is not guessed
    found = scan(remove=True)
    assert sorted((f["id"], f["removable"]) for f in found["findings"]) == sorted([(kept, False), (other, False)])
    assert found["removed"] == [] and "decide by hand" in found["problems"][0]
    assert sorted(vpcs()) == sorted([kept, other])


def test_a_key_without_alias_is_removed_only_if_nothing_uses_it(emulator):
    kms = aws("kms", REGION)
    key_tags = [{"TagKey": k, "TagValue": v} for k, v in dict(TAGS, Region=REGION).items()]
    aliased = kms.create_key(Description="EHRbase", Tags=key_tags)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/%s-ehrbase" % PREFIX, TargetKeyId=aliased)
    unused = kms.create_key(Description="EHRbase", Tags=key_tags)["KeyMetadata"]["KeyId"]
    used = kms.create_key(Description="EHRbase", Tags=key_tags)["KeyMetadata"]
    aws("secretsmanager", REGION).create_secret(Name=PREFIX + "/ehrbase/x", SecretString="s", KmsKeyId=used["Arn"])
    kms.create_key(Description="someone else's", Tags=[{"TagKey": "ManagedBy", "TagValue": "terraform"}])

    found = {f["id"]: f for f in scan()["findings"]}
    assert sorted(found) == sorted([unused, used["KeyId"]])
    assert found[unused]["removable"] and not found[used["KeyId"]]["removable"]
    assert "secret %s/ehrbase/x" % PREFIX in found[used["KeyId"]]["evidence"]

    scan(remove=True)
    assert kms.describe_key(KeyId=unused)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.describe_key(KeyId=used["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_what_the_next_run_can_use_is_adopted_not_reported(emulator):
    ec2 = aws("ec2", REGION)
    vpc(True)
    igw = ec2.create_internet_gateway(TagSpecifications=tagspec("internet-gateway", PREFIX + "-igw"))
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=tagspec("elastic-ip", PREFIX + "-nat-eip-a"))
    found = scan()
    assert found["findings"] == []
    assert found["adopt"]["internet_gateway_id"] == igw["InternetGateway"]["InternetGatewayId"]
    assert found["adopt"]["nat_eips"] == {PREFIX + "-nat-eip-a": eip["AllocationId"]}

    # A second gateway or address of the same name is one too many: reported, and removable.
    ec2.create_internet_gateway(TagSpecifications=tagspec("internet-gateway", PREFIX + "-igw"))
    ec2.allocate_address(Domain="vpc", TagSpecifications=tagspec("elastic-ip", PREFIX + "-nat-eip-a"))
    found = scan()
    assert sorted(f["type"] for f in found["findings"]) == ["elastic_ip", "internet_gateway"]
    assert all(f["removable"] for f in found["findings"])


@pytest.mark.parametrize("same", [True, False])
def test_a_task_definition_registered_twice_is_found_a_changed_one_is_not(emulator, same):
    ecs = aws("ecs", REGION)
    definition = dict(family=PREFIX + "-ehrbase", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="512",
                      memory="1024", containerDefinitions=[{"name": "ehrbase", "image": "ehrbase/ehrbase:2.0.0"}])
    ecs.register_task_definition(**definition)
    if not same:
        definition["containerDefinitions"] = [{"name": "ehrbase", "image": "ehrbase/ehrbase:2.1.0"}]
    second = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    found = scan()["findings"]
    if same:
        assert [(f["type"], f["removable"]) for f in found] == [("task_definition", True)]
        scan(remove=True)
        active = ecs.list_task_definitions(familyPrefix=PREFIX + "-ehrbase", status="ACTIVE")["taskDefinitionArns"]
        assert len(active) == 1
    else:
        assert found == [] and second


def test_access_reads_identity_region_and_zones_only_when_asked(emulator):
    # (The emulator lists every region and fails on an unknown one, so "not enabled" cannot be shown here.)
    args = {"region": REGION, "name_prefix": PREFIX, "kms_alias": PREFIX + "-ehrbase", "tags": TAGS, "access": True}
    rc, res, out = run_module("medzen.ehrbase.ehrbase_leftovers", args)
    assert rc == 0, out
    zones = [z["ZoneName"] for z in aws("ec2", REGION).describe_availability_zones()["AvailabilityZones"]]
    assert res["access"]["region_enabled"] is True and res["access"]["account"] == "123456789012"
    assert sorted(res["access"]["availability_zones"]) == sorted(zones) and len(zones) >= 2
    assert "access" not in scan()
