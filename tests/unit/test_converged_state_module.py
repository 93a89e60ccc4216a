"""ehrbase_converged_state through ansible against the test emulator: compare, seal, drift, inputs, no secret.

The region is made with boto3 (a VPC, a security group, a secret) under a prefix no other test uses.
"""

import json

from ansible_collections.medzen.ehrbase.plugins.module_utils.converged import decode
from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names
from helpers import aws, run_module

REGION = "eu-west-1"
PREFIX = "sealtest-euw1"
NAMES = resource_names(PREFIX)
SECRET_VALUE = "not-for-any-seal-4f1c"


def state(seal=False, check_mode=False, inputs="inputs-1", outputs=None, base="base-1", fails=False):
    args = {"region": REGION, "parameter": NAMES["converged_seal"], "inputs_digest": inputs, "base_inputs_digest": base,
            "names": NAMES,
            "zone_name": "sealtest.example", "domain": "ehr.sealtest.example",
            "db_parameter_group": NAMES["db_parameter_group"], "kms_alias_prefix": "sealtest-",
            "dashboard": "sealtest-ehrbase", "dashboard_region": REGION, "budget": "sealtest-ehrbase-monthly",
            "route53_alarm_topic": "sealtest-route53-alarms", "seal": seal, "run_id": "run-1",
            "outputs": outputs or {}}
    rc, res, out = run_module("medzen.ehrbase.ehrbase_converged_state", args, check_mode=check_mode)
    assert (rc != 0 if fails else rc == 0) and res is not None, out
    return res


def build():
    ec2 = aws("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": NAMES["vpc"]}]}])["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as declared (declared.py)
    group = ec2.create_security_group(GroupName=NAMES["ecs_security_group"], Description="test", VpcId=vpc)["GroupId"]
    aws("secretsmanager", REGION).create_secret(Name=NAMES["secrets"]["master"],
                                                SecretString=json.dumps({"password": SECRET_VALUE}))
    ecs = aws("ecs", REGION)
    ecs.create_cluster(clusterName=NAMES["cluster"])
    ecs.register_task_definition(family=NAMES["task_family"], containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 64}])
    ecs.create_service(cluster=NAMES["cluster"], serviceName=NAMES["service"], taskDefinition=NAMES["task_family"],
                       desiredCount=2)
    aws("application-autoscaling", REGION).register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/%s/%s" % (NAMES["cluster"], NAMES["service"]),
        ScalableDimension="ecs:service:DesiredCount", MinCapacity=2, MaxCapacity=4)
    return group


def task_count(count):
    aws("ecs", REGION).update_service(cluster=NAMES["cluster"], service=NAMES["service"], desiredCount=count)


def stored():
    return aws("ssm", REGION).get_parameters(Names=[NAMES["converged_seal"]])["Parameters"]


def app_tier_drift_keeps_the_base():
    task_count(0)  # outside the range: the roles would put it back
    app_drift = state()
    assert app_drift["drift"] == ["changed: task count of %s inside its range" % NAMES["service"]]
    # Drift in the app tier only: the network and database tiers may be skipped, with the sealed outputs.
    assert app_drift["in_sync"] is False and app_drift["base_in_sync"] is True
    assert app_drift["outputs"] == {"network_outputs": {"vpc_id": "vpc-1"}}
    task_count(2)


def release_keeps_the_base():
    """A release: only the app tier's inputs (ecs_*) changed, the others are the seal's."""
    release = state(inputs="inputs-2")
    assert release["in_sync"] is False and release["base_in_sync"] is True and "inputs changed" in release["drift"][0]
    assert state(inputs="inputs-2", base="base-2")["base_in_sync"] is False  # a network/rds/db_init input changed
    assert state(inputs="inputs-2", base="")["base_in_sync"] is False  # no base digest given: never a match


def test_seal_then_compare_names_the_drift_and_holds_no_secret(emulator):
    group = build()
    first = state()
    assert first["in_sync"] is False and first["changed"] is False and "no seal yet" in first["drift"][0]
    assert first["resources"] == 0  # no seal: nothing to compare with, so the region is not read

    assert state(seal=True, check_mode=True)["changed"] is True and stored() == []  # check mode writes nothing
    assert state(seal=True, outputs={"network_outputs": {"vpc_id": "vpc-1"}})["changed"] is True
    assert state(seal=True, outputs={"network_outputs": {"vpc_id": "vpc-1"}})["changed"] is False  # idempotent
    text = stored()[0]["Value"]
    assert SECRET_VALUE not in text and SECRET_VALUE not in json.dumps(decode(text))

    same = state()
    assert same["resources"] > 10  # absent resources are digested as absent: their creation is drift too
    assert same["in_sync"] is True and same["drift"] == [] and same["outputs"] == {"network_outputs": {"vpc_id": "vpc-1"}}
    assert same["sealed_by"]["run_id"] == "run-1" and same["base_in_sync"] is True

    task_count(3)  # autoscaling's to set: still in sync
    assert state()["in_sync"] is True
    app_tier_drift_keeps_the_base()
    release_keeps_the_base()

    aws("ec2", REGION).authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    drifted = state()
    assert drifted["in_sync"] is False and drifted["base_in_sync"] is False and drifted["outputs"] == {}
    assert drifted["drift"] == ["changed: security group %s" % NAMES["ecs_security_group"]], drifted["drift"]

    other = state(inputs="inputs-2")
    assert other["in_sync"] is False and "inputs changed" in other["drift"][0]
    a_finding_is_never_in_sync_and_never_sealed()


def a_finding_is_never_in_sync_and_never_sealed():
    """A difference from what the collection declares (here: the DNS hostnames of the VPC turned off)."""
    ec2 = aws("ec2", REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAMES["vpc"]]}])["Vpcs"][0]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": False})
    line = "vpc %s: enableDnsHostnames is False, declared True" % NAMES["vpc"]
    found = state()
    assert found["in_sync"] is False and found["findings"][0].startswith(line), found["findings"]
    assert found["drift"][0].startswith("not as declared: " + line), found["drift"]
    before = stored()[0]["Value"]
    refused = state(seal=True, fails=True)
    assert "NOT SEALED" in refused["msg"] and line in refused["msg"] and "Fix: a normal site.yml run" in refused["msg"]
    assert stored()[0]["Value"] == before
    assert "check mode, nothing was changed" in state(seal=True, check_mode=True, fails=True)["msg"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    assert state()["findings"] == []
