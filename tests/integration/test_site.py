"""Full site.yml on the test emulator: build from empty, converge, re-run, check mode.

Ordered: the tests share one deployment (building it is the expensive part).
"""

import ipaddress
import json
import os
import re
import sys
import time

import pg
import psycopg2
import pytest

import drift
from helpers import ENDPOINT, REGIONS, ROOT, aws, changed_tasks, emulator_reset, recap, run_playbook

sys.path.insert(0, os.path.join(ROOT, "local"))
from faultproxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position

PLAN = {
    "eu-west-1": "10.0",
    "eu-central-1": "10.1",
    "af-south-1": "10.2",
}


@pytest.fixture(scope="module")
def counter():
    """A fault-free proxy in front of the emulator that counts reads and mutating calls per region."""
    proxy = FaultProxy(ENDPOINT).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def first_run():
    emulator_reset()
    rc, out = run_playbook("site.yml")
    return rc, out


def test_check_mode_on_empty_account_changes_nothing():
    emulator_reset()
    rc, out = run_playbook("site.yml", "--check")
    assert rc == 0, out
    for region in REGIONS:
        vpcs = aws("ec2", region).describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["medzen"]}])["Vpcs"]
        assert vpcs == [], "check mode created a VPC in %s" % region
    # It says what it would create: every resource of each new region, by type and name.
    assert all(recap(out)[r]["changed"] >= 1 for r in REGIONS), out
    for prefix in ("medzen-local-euw1", "medzen-local-euc1", "medzen-local-afs1"):
        for line in ("AWS::EC2::NatGateway %s-nat-b" % prefix, "AWS::RDS::DBInstance %s-db" % prefix,
                     "AWS::SecretsManager::Secret %s/ehrbase/api-user" % prefix, "AWS::ECS::Service %s-ehrbase" % prefix,
                     "AWS::ElasticLoadBalancingV2::TargetGroup %s-tg" % prefix):
            assert line in out, line
    assert "AWS::RDS::DBInstanceAutomatedBackupsReplication medzen-local-euw1-db -> eu-central-1" in out
    assert "AWS::KMS::Key alias/medzen-local-afs1-ehrbase-copies in eu-west-1" in out


def batches(out, task_prefix):
    """The hosts that ran each occurrence of a task, in order: one list per batch of the region play."""
    found, current = [], None
    for line in out.splitlines():
        if line.startswith("TASK ["):
            current = [] if line.startswith(task_prefix) else None
            if current is not None:
                found.append(current)
        elif current is not None:
            m = re.match(r"^(ok|changed|skipping|fatal): \[([a-z0-9-]+)\]", line)
            if m:
                current.append(m.group(2))
    return [sorted(set(hosts)) for hosts in found]


def test_site_builds_every_region(first_run):
    rc, out = first_run
    assert rc == 0, out[-5000:]
    assert list(recap(out)) and all(recap(out)[r]["failed"] == 0 for r in REGIONS)
    # The primary alone first (its failure would stop the run before any other region), then the others together.
    assert batches(out, "TASK [medzen.ehrbase.network : VPC") == [["eu-west-1"], ["af-south-1", "eu-central-1"]]


def check_subnets(ec2, region, net, inv):
    subnets = ec2.describe_subnets(Filters=[inv])["Subnets"]
    by_cidr = {s["CidrBlock"]: s for s in subnets}
    assert sorted(by_cidr) == sorted(net + x for x in (".1.0/24", ".2.0/24", ".11.0/24", ".12.0/24"))
    for suffix, az in ((".1.0/24", "a"), (".2.0/24", "b"), (".11.0/24", "a"), (".12.0/24", "b")):
        assert by_cidr[net + suffix]["AvailabilityZone"] == region + az
    return subnets, by_cidr


def check_gateways(ec2, vpc, inv, public_ids):
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
    assert len(igws) == 1
    nats = [n for n in ec2.describe_nat_gateways(Filter=[inv])["NatGateways"] if n["State"] != "deleted"]
    assert len(nats) == 2, "one NAT gateway per AZ"
    nat_subnet = {n["NatGatewayId"]: n["SubnetId"] for n in nats}
    assert set(nat_subnet.values()) == public_ids, "each NAT in its AZ's public subnet"
    assert len(ec2.describe_addresses()["Addresses"]) == 2, "exactly one EIP per NAT gateway"
    return igws[0]["InternetGatewayId"], nat_subnet


def check_default_route(rt, az_of, public_ids, igw, nat_subnet):
    default = [r for r in rt["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    for sid in [a["SubnetId"] for a in rt["Associations"] if a.get("SubnetId")]:
        if sid in public_ids:
            assert default[0].get("GatewayId") == igw
        else:
            assert az_of[nat_subnet[default[0]["NatGatewayId"]]] == az_of[sid], "private subnet routes to another AZ's NAT"


def check_routing(ec2, inv, subnets, public_ids, igw, nat_subnet):
    """Public -> IGW; each private subnet -> the NAT of its own AZ; every subnet associated; 3 own tables."""
    az_of = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
    tables = ec2.describe_route_tables(Filters=[inv])["RouteTables"]
    for rt in tables:
        check_default_route(rt, az_of, public_ids, igw, nat_subnet)
    associated = {a["SubnetId"] for rt in tables for a in rt["Associations"] if a.get("SubnetId")}
    assert associated == set(az_of)
    assert len([rt for rt in tables if not any(a.get("Main") for a in rt["Associations"])]) == 3


def inbound(group):
    rules = set()
    for perm in group["IpPermissions"]:
        rules |= {(perm["FromPort"], perm["ToPort"], r["CidrIp"]) for r in perm.get("IpRanges", [])}
        rules |= {(perm["FromPort"], perm["ToPort"], r["GroupId"]) for r in perm.get("UserIdGroupPairs", [])}
    return rules


def check_security_groups(ec2, inv):
    """Only the listed inbound rules."""
    groups = {g["GroupName"].rsplit("-", 2)[-2]: g for g in ec2.describe_security_groups(Filters=[inv])["SecurityGroups"]
              if g["GroupName"] != "default"}
    assert sorted(groups) == ["alb", "ecs", "rds"]
    assert inbound(groups["alb"]) == {(80, 80, "0.0.0.0/0"), (443, 443, "0.0.0.0/0")}
    assert inbound(groups["ecs"]) == {(8080, 8080, groups["alb"]["GroupId"])}
    assert inbound(groups["rds"]) == {(5432, 5432, groups["ecs"]["GroupId"])}
    return list(groups.values())


def check_tags(resources, region):
    for res in resources:
        tags = {t["Key"]: t["Value"] for t in res["Tags"]}
        assert (tags["Project"], tags["Environment"], tags["Region"]) == ("medzen", "local", region)
        assert tags["ManagedBy"] == "ansible/medzen.ehrbase"


@pytest.mark.parametrize("region", REGIONS)
def test_network_is_exactly_as_designed(first_run, region):
    ec2 = aws("ec2", region)
    net = PLAN[region]
    tag = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
    vpcs = ec2.describe_vpcs(Filters=tag)["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == [net + ".0.0/16"]
    vpc = vpcs[0]["VpcId"]
    inv = {"Name": "vpc-id", "Values": [vpc]}
    for attr in ("enableDnsSupport", "enableDnsHostnames"):
        key = attr[0].upper() + attr[1:]
        assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute=attr)[key]["Value"] is True
    subnets, by_cidr = check_subnets(ec2, region, net, inv)
    public_ids = {by_cidr[net + ".1.0/24"]["SubnetId"], by_cidr[net + ".2.0/24"]["SubnetId"]}
    igw, nat_subnet = check_gateways(ec2, vpc, inv, public_ids)
    check_routing(ec2, inv, subnets, public_ids, igw, nat_subnet)
    groups = check_security_groups(ec2, inv)
    check_tags(groups + vpcs, region)
    ipaddress.ip_network(vpcs[0]["CidrBlock"])


def check_instance(db, key):
    assert db["Engine"] == "postgres" and db["EngineVersion"].startswith("16.")
    assert db["MultiAZ"] is True and db["StorageEncrypted"] is True and db["KmsKeyId"] == key["Arn"]
    assert db["PubliclyAccessible"] is False
    assert (db["StorageType"], db["AllocatedStorage"], db["DBInstanceClass"]) == ("gp3", 100, "db.t3.medium")
    assert db["BackupRetentionPeriod"] == 7 and db["CopyTagsToSnapshot"] is True
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert db["DeletionProtection"] is False  # local environment; prod turns it on (role default)


def check_secrets(region, short, key):
    sm = aws("secretsmanager", region)
    # (The region also holds the replicas of its backup partners' secrets, under their prefixes.)
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"] if s["Name"].startswith("medzen-local-%s/" % short))
    assert names == sorted("medzen-local-%s/ehrbase/%s" % (short, n)
                           for n in ("db-master", "db-owner", "db-app", "api-user", "api-admin"))
    for name in names:
        assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
        value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
        assert len(value["password"]) >= 32 and value["password"].isalnum()


@pytest.mark.parametrize("region", REGIONS)
def test_data_tier_is_encrypted_multi_az_and_private(first_run, region):
    rds = aws("rds", region)
    short = {"eu-west-1": "euw1", "eu-central-1": "euc1", "af-south-1": "afs1"}[region]
    db = rds.describe_db_instances(DBInstanceIdentifier="medzen-local-%s-db" % short)["DBInstances"][0]
    key = aws("kms", region).describe_key(KeyId="alias/medzen-local-%s-ehrbase" % short)["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert aws("kms", region).get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    check_instance(db, key)
    group = db["DBParameterGroups"][0]["DBParameterGroupName"]
    params = {p["ParameterName"]: p.get("ParameterValue") for p in
              rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]}
    assert params["rds.force_ssl"] == "1"
    subnets = {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]}
    private = {s["SubnetId"] for s in aws("ec2", region).describe_subnets(
        Filters=[{"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]}
    assert subnets == private
    check_secrets(region, short, key)


@pytest.mark.parametrize("region", REGIONS)
def test_database_is_bootstrapped_for_ehrbase(first_run, region):
    conn = psycopg2.connect(host=pg.socket_dir(region), port=pg.port(region), user="postgres", dbname="ehrbase")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname LIKE 'ehrbase%' ORDER BY 1")
        assert cur.fetchall() == [("ehrbase", False, False), ("ehrbase_master", False, True),
                                  ("ehrbase_restricted", False, False)]
        cur.execute("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN ('ehr','ext') ORDER BY 1")
        assert cur.fetchall() == [("ehr", "ehrbase"), ("ext", "ehrbase")]
        cur.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE extname = 'uuid-ossp'")
        assert cur.fetchone() == ("ext",)
        cur.execute("SELECT has_schema_privilege('ehrbase_restricted', 'ehr', 'USAGE'), "
                    "has_schema_privilege('ehrbase_restricted', 'ehr', 'CREATE')")
        assert cur.fetchone() == (True, False)
    conn.close()


SHORT = {"eu-west-1": "euw1", "eu-central-1": "euc1", "af-south-1": "afs1"}


def test_verify_table_is_green_for_every_region(first_run):
    rc, out = first_run
    table = out[out.index("TASK [Verify results]"):out.index("TASK [Fail for an unhealthy region]")]
    for region in REGIONS:
        line = next(l for l in table.splitlines() if l.strip(" -").startswith(region))
        assert line.split()[2:5] == ["ok", "ok", "ok"], line


def subnet_ids(ec2, tier):
    return {s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "tag:Tier", "Values": [tier]}])["Subnets"]}


def check_service(region, prefix, svc):
    ec2 = aws("ec2", region)
    assert svc["desiredCount"] == 2 and svc["launchType"] == "FARGATE"
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert set(net["subnets"]) == subnet_ids(ec2, "private") and net["assignPublicIp"] == "DISABLED"
    ecs_sg = ec2.describe_security_groups(GroupNames=[prefix + "-ecs-sg"])["SecurityGroups"][0]["GroupId"]
    assert net["securityGroups"] == [ecs_sg]
    dc = svc["deploymentConfiguration"]
    assert (dc["minimumHealthyPercent"], dc["maximumPercent"]) == (100, 200)
    assert dc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert svc["healthCheckGracePeriodSeconds"] >= 180


def check_container_environment(region, container):
    """Credentials only through secrets; EHRbase's own property names (application.yml at the pinned tag): only
    health exposed, links behind the ALB on https, a heap sized for the 2 GB task."""
    env = {e["name"]: e["value"] for e in container["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(secrets) == {"DB_PASS", "DB_PASS_ADMIN", "SECURITY_AUTHUSER", "SECURITY_AUTHPASSWORD",
                            "SECURITY_AUTHADMINUSER", "SECURITY_AUTHADMINPASSWORD"}
    assert not set(secrets) & set(env)
    assert (env["DB_USER"], env["DB_USER_ADMIN"], env["SECURITY_AUTHTYPE"]) == ("ehrbase_restricted", "ehrbase", "BASIC")
    assert "sun.net.inetaddr.ttl=30" in env["JAVA_TOOL_OPTIONS"] and "-XX:MaxRAMPercentage=75" in env["JAVA_TOOL_OPTIONS"]
    assert env["MANAGEMENT_ENDPOINTS_WEB_ACCESS"] == "PUBLIC" and "MANAGEMENT_ENDPOINT_HEALTH_ENABLED" not in env
    assert env["MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE"] == "health" and "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE" not in env
    assert env["SERVER_FORWARDHEADERSSTRATEGY"] == "framework"
    sm = aws("secretsmanager", region)
    values = [json.loads(sm.get_secret_value(SecretId=v.rsplit(":", 3)[0])["SecretString"])["password"]
              for v in secrets.values()]
    assert not any(v in json.dumps(env) for v in values), "a secret value is in the task environment"


def check_listeners(region, elb, lb):
    listeners = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert sorted(listeners) == [80, 443]
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect" and redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert listeners[443]["Protocol"] == "HTTPS" and listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    cert = aws("acm", region).describe_certificate(CertificateArn=listeners[443]["Certificates"][0]["CertificateArn"])
    assert cert["Certificate"]["DomainName"] == "ehr.medzenhealth.app"
    assert region + ".ehr.medzenhealth.app" in cert["Certificate"]["SubjectAlternativeNames"]
    return listeners


def check_load_balancer(region, prefix):
    elb = aws("elbv2", region)
    lb = elb.describe_load_balancers(Names=[prefix + "-alb"])["LoadBalancers"][0]
    assert lb["Scheme"] == "internet-facing"
    assert {az["SubnetId"] for az in lb["AvailabilityZones"]} == subnet_ids(aws("ec2", region), "public")
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    listeners = check_listeners(region, elb, lb)
    tg = elb.describe_target_groups(Names=[prefix + "-tg"])["TargetGroups"][0]
    assert (tg["TargetType"], tg["Port"], tg["HealthCheckPath"]) == ("ip", 8080, "/ehrbase/management/health")
    assert tg["Matcher"]["HttpCode"] == "200"
    assert listeners[443]["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]


def check_autoscaling_and_iam(region, prefix):
    aas = aws("application-autoscaling", region)
    target = [t for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
              if t["ResourceId"] == "service/%s-cluster/%s-ehrbase" % (prefix, prefix)]
    assert (target[0]["MinCapacity"], target[0]["MaxCapacity"]) == (2, 4)
    policies = {p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"]:
                p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
                for p in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]}
    assert policies == {"ECSServiceAverageCPUUtilization": 70.0, "ECSServiceAverageMemoryUtilization": 80.0}
    policy = aws("iam", region).get_role_policy(RoleName=prefix + "-ecs-execution", PolicyName="read-ehrbase-secrets")
    resources = [r for st in policy["PolicyDocument"]["Statement"]
                 for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    assert "*" not in resources and all(r.startswith("arn:aws:") for r in resources)


@pytest.mark.parametrize("region", REGIONS)
def test_app_tier_is_as_designed(first_run, region):
    prefix = "medzen-local-" + SHORT[region]
    ecs = aws("ecs", region)
    cluster = ecs.describe_clusters(clusters=[prefix + "-cluster"], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    svc = ecs.describe_services(cluster=prefix + "-cluster", services=[prefix + "-ehrbase"])["services"][0]
    check_service(region, prefix, svc)
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert (td["cpu"], td["memory"], td["networkMode"]) == ("1024", "2048", "awsvpc")
    container = td["containerDefinitions"][0]
    assert container["image"].startswith("ehrbase/ehrbase:2.") and not container["image"].endswith(":latest")
    check_container_environment(region, container)
    check_load_balancer(region, prefix)
    check_autoscaling_and_iam(region, prefix)


CERT_PLAY = """---
- name: The ecs role's certificate step alone, for a name nobody validates
  hosts: eu-west-1
  gather_facts: false
  module_defaults:
    group/medzen.ehrbase.aws: "{{ ehrbase_aws_regional }}"
  tasks:
    - name: Certificate with no validation zone
      ansible.builtin.include_role:
        name: medzen.ehrbase.ecs
        tasks_from: certificate
      vars:
        ecs_domain: nobody-validates.medzenhealth.app
        ecs_certificate_validation_zone: ""
"""


def test_a_new_certificate_nobody_validates_stops_at_once_with_the_records(first_run, tmp_path):
    play = os.path.join(ROOT, "zz_cert_probe.yml")  # at the root: the collection and inventory resolve as for site.yml
    with open(play, "w") as fh:
        fh.write(CERT_PLAY)
    acm = aws("acm", "eu-west-1")
    started = time.time()
    try:
        rc, out = run_playbook(play)
    finally:
        os.remove(play)
        for cert in acm.list_certificates()["CertificateSummaryList"]:
            if cert["DomainName"] == "nobody-validates.medzenhealth.app":
                acm.delete_certificate(CertificateArn=cert["CertificateArn"])
    text = " ".join(out.split())
    assert rc != 0 and "ecs_certificate_validation_zone is empty" in text, out[-3000:]
    # The records to create by hand are listed (name -> value).
    assert "Fix: set ehrbase_zone_name" in text and re.search(r"nobody-validates\.medzenhealth\.app\.? -> ", text), text[-2000:]
    assert time.time() - started < 120, "it waited for a certificate nobody validates"


KMS_PLAY = """---
- name: The rds role's key step alone
  hosts: af-south-1
  gather_facts: false
  module_defaults:
    group/medzen.ehrbase.aws: "{{ ehrbase_aws_regional }}"
  tasks:
    - name: Region key
      ansible.builtin.include_role:
        name: medzen.ehrbase.rds
        tasks_from: kms
"""


def run_kms_step():
    play = os.path.join(ROOT, "zz_kms_probe.yml")
    with open(play, "w") as fh:
        fh.write(KMS_PLAY)
    try:
        return run_playbook(play)
    finally:
        os.remove(play)


def test_a_key_left_without_its_alias_is_adopted_never_duplicated(first_run):
    """A run stopped between CreateKey and CreateAlias (throttled) left a key of ours without an alias: the next run
    gives it the alias instead of creating a second key; two such keys are named, not guessed at."""
    kms = aws("kms", "af-south-1")
    alias = "alias/%s-ehrbase" % PREFIX["af-south-1"]
    key_id = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    keys_before = len(kms.list_keys()["Keys"])
    kms.delete_alias(AliasName=alias)
    rc, out = run_kms_step()
    assert rc == 0, out[-3000:]
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id
    assert len(kms.list_keys()["Keys"]) == keys_before, "a second key was created"
    # Two orphans: refused, nothing changed.
    ours = {"Project": "medzen", "Environment": "local", "ManagedBy": "ansible/medzen.ehrbase", "Region": "af-south-1"}
    tags = [{"TagKey": k, "TagValue": v} for k, v in ours.items()]
    twin = kms.create_key(Description="EHRbase af-south-1 - RDS storage, snapshots and Secrets Manager secrets",
                          Tags=tags)["KeyMetadata"]["KeyId"]
    kms.delete_alias(AliasName=alias)
    try:
        rc, out = run_kms_step()
        text = " ".join(out.split())
        assert rc != 0 and "2 KMS keys of this deployment without the alias" in text and twin in text, out[-3000:]
        assert "Nothing was changed" in text
    finally:
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        kms.schedule_key_deletion(KeyId=twin, PendingWindowInDays=7)


def test_second_run_changes_nothing_and_never_prints_a_secret(first_run):
    # Autoscaling moved a region to 3 tasks: a re-run must leave that alone.
    ecs = aws("ecs", "eu-west-1")
    ecs.update_service(cluster="medzen-local-euw1-cluster", service="medzen-local-euw1-ehrbase", desiredCount=3)
    revisions = len(ecs.list_task_definitions(familyPrefix="medzen-local-euw1-ehrbase")["taskDefinitionArns"])
    # The roles themselves (ehrbase_fast_path=false): idempotent, and silent about secrets even at -vvv.
    rc, out = run_playbook("site.yml", "-vvv", "-e", "ehrbase_fast_path=false")
    svc = ecs.describe_services(cluster="medzen-local-euw1-cluster", services=["medzen-local-euw1-ehrbase"])["services"][0]
    assert svc["desiredCount"] == 3, "the re-run reset an autoscaled task count"
    assert len(ecs.list_task_definitions(familyPrefix="medzen-local-euw1-ehrbase")["taskDefinitionArns"]) == revisions
    assert rc == 0, out[-5000:]
    totals = recap(out)
    assert all(totals[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
    leaked = []
    for region in REGIONS:
        sm = aws("secretsmanager", region)
        for s in sm.list_secrets()["SecretList"]:
            password = json.loads(sm.get_secret_value(SecretId=s["ARN"])["SecretString"])["password"]
            if password in out or password in first_run[1]:
                leaked.append(s["Name"])
    assert leaked == [], "secret values printed: %s" % leaked


def test_check_mode_on_converged_state_changes_nothing(first_run):
    rc, out = run_playbook("site.yml", "--check", "--diff", "-e", "ehrbase_fast_path=false")
    assert rc == 0, out[-5000:]
    assert all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
    assert "TASK [medzen.ehrbase.network : " in out and "TASK [medzen.ehrbase.monitoring : " in out


def test_regions_run_primary_first_then_the_others_together(first_run):
    """The from-empty build: the primary's region play finished before any other region's started."""
    out = first_run[1]
    batches = [chunk.split("\nPLAY [", 1)[0] for chunk in out.split("PLAY [Region - network, data and app tier]")[1:]]
    assert len(batches) == 2, len(batches)
    hosts = [set(re.findall(r"^(?:ok|changed): \[([a-z0-9-]+)\]", b, re.M)) for b in batches]
    assert hosts == [{"eu-west-1"}, {"eu-central-1", "af-south-1"}], hosts


def test_the_fast_path_skips_a_converged_deployment_with_no_change_and_no_mutating_call(first_run, counter):
    for extra in ([], ["--check"]):
        counter.faults.reset()
        rc, out = run_playbook("site.yml", *extra, env={"AWS_ENDPOINT_URL": counter.url})
        assert rc == 0, out[-5000:]
        for region in REGIONS:
            assert re.search(r"%s: \d+ resources read, as sealed by run" % region, out), out[-5000:]
        assert "TASK [medzen.ehrbase.network : " not in out and "TASK [medzen.ehrbase.route53 : " not in out
        assert "PLAY [Verify - every region serves EHRs]" in out and "eu-west-1 (primary)" in out  # verify, summary
        assert all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
        assert counter.faults.stats()["mutating"] == 0, counter.faults.stats()["mutating_calls"]


DRIFT_TASKS = {  # task name start -> the region it must report changed in
    "medzen.ehrbase.network : ECS security group": "eu-west-1",
    "medzen.ehrbase.ecs : Fargate task definition": "eu-west-1",
    "medzen.ehrbase.network : Route tables - the result of each": "eu-central-1",
    "medzen.ehrbase.monitoring : Alarms with alarm and OK actions": "af-south-1",
    "medzen.ehrbase.ecs : Task range of the service": "af-south-1",
    "medzen.ehrbase.route53 : Alias records": "eu-west-1",  # run once, for every region's records
}


def drift_state():
    return {"sg_rule": drift.sg_rule_present(), "route": drift.route_present(), "alarm": drift.alarm_threshold_value(),
            "task_env": "DEBUG_BY_HAND" in drift.task_definition_env(), "dns": drift.dns_record_present(),
            "min": drift.min_capacity()}


def changed_in(out, task_start):
    """The hosts a task (found by the start of its name, in every batch that ran it) reported changed on."""
    parts = [p.split("\nTASK [", 1)[0].split("\nPLAY [", 1)[0] for p in out.split("TASK [" + task_start)[1:]]
    return set(re.findall(r"^changed: \[([a-z0-9-]+)\]", "\n".join(parts), re.M))


DRIFT_LINES = ("changed: security group medzen-local-euw1-ecs-sg", "changed: route table medzen-local-euc1-private-rt-a",
               "changed: alarm medzen-local-afs1-ecs-cpu-high", "changed: task definition of medzen-local-euw1-ehrbase",
               "gone: DNS record eu-central-1.ehr.medzenhealth.app. A",
               "changed: scalable target service/medzen-local-afs1-cluster/medzen-local-afs1-ehrbase")


def make_every_drift(converged):
    for make in (drift.sg_rule, drift.route, drift.alarm_threshold, drift.task_definition, drift.dns_record,
                 drift.scaled_in):
        make()
    drifted = drift_state()
    assert all(drifted[k] != converged[k] for k in converged), (converged, drifted)
    return drifted


def check_reports_every_drift_and_changes_nothing(counter, drifted):
    counter.faults.reset()
    rc, out = run_playbook("site.yml", "--check", env={"AWS_ENDPOINT_URL": counter.url})
    assert rc == 0, out[-5000:]
    assert counter.faults.stats()["mutating"] == 0, counter.faults.stats()["mutating_calls"]
    missing = [line for line in DRIFT_LINES if line not in out]  # the fast path names each resource
    assert missing == [], missing
    unreported = [task for task, region in DRIFT_TASKS.items() if region not in changed_in(out, task)]
    assert unreported == [], (unreported, changed_tasks(out))
    assert drift_state() == drifted


def failing_primary_leaves_the_others_untouched(counter, drifted):
    """A primary that fails (here: a release that never becomes healthy) stops the run before any other region."""
    counter.faults.reset()
    rc, out = run_playbook("site.yml", "-e", "ecs_ehrbase_version=2.32.0-broken", env={"AWS_ENDPOINT_URL": counter.url})
    assert rc != 0 and "RELEASE FAILED in eu-west-1" in out, out[-4000:]
    assert changed_in(out, "medzen.ehrbase.network : ECS security group") == {"eu-west-1"}, changed_tasks(out)
    others = [k for k in counter.faults.stats()["mutating_calls"] if k.split(":")[0] in ("eu-central-1", "af-south-1")]
    assert others == [], others
    now = drift_state()
    assert [now[k] for k in ("route", "alarm", "min")] == [drifted[k] for k in ("route", "alarm", "min")]


def test_drift_is_reported_by_check_and_put_back_by_a_normal_run_primary_first(first_run, counter):
    converged = drift_state()
    drifted = make_every_drift(converged)
    check_reports_every_drift_and_changes_nothing(counter, drifted)
    failing_primary_leaves_the_others_untouched(counter, drifted)
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-5000:]
    # The primary put its own drift back before its release failed; the global DNS records were still missing.
    left = [task for task, region in DRIFT_TASKS.items() if region != "eu-west-1" or "route53" in task]
    assert [task for task in left if DRIFT_TASKS[task] not in changed_in(out, task)] == [], changed_tasks(out)
    assert drift_state() == converged
    rc, out = run_playbook("site.yml")
    assert rc == 0 and "as sealed by run" in out, out[-5000:]
    assert all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)


def test_rerun_does_not_duplicate_network(first_run):
    for region in REGIONS:
        ec2 = aws("ec2", region)
        tag = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
        assert len(ec2.describe_vpcs(Filters=tag)["Vpcs"]) == 1
        assert len(ec2.describe_addresses()["Addresses"]) == 2
        assert len([n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"]) == 2


def test_dns_tree_is_in_place_and_routing_printed(first_run):
    rc, out = first_run
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    r53 = aws("route53")
    zone = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "medzenhealth.app."][0]
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    by_name = {}
    for rec in records:
        by_name.setdefault((rec["Name"], rec["Type"]), []).append(rec)
    top = by_name[("ehr.medzenhealth.app.", "A")]
    assert sorted(r["SetIdentifier"] for r in top) == ["geo-africa", "geo-default", "geo-europe"]
    assert all(r["AliasTarget"]["EvaluateTargetHealth"] for r in top)
    eu = by_name[("eu.ehr.medzenhealth.app.", "A")]
    assert sorted(r["Failover"] for r in eu) == ["PRIMARY", "SECONDARY"] and all(r.get("HealthCheckId") for r in eu)
    checks = r53.list_health_checks()["HealthChecks"]
    assert len(checks) == 3
    for check in checks:
        cfg = check["HealthCheckConfig"]
        assert (cfg["Type"], cfg["ResourcePath"], cfg["RequestInterval"], cfg["FailureThreshold"]) == \
            ("HTTPS", "/ehrbase/management/health", 30, 3)


@pytest.mark.parametrize("region", REGIONS)
def test_monitoring_watches_this_regions_resources(first_run, region):
    prefix = {"eu-west-1": "medzen-local-euw1", "eu-central-1": "medzen-local-euc1", "af-south-1": "medzen-local-afs1"}[region]
    alarms = aws("cloudwatch", region).describe_alarms(AlarmNamePrefix=prefix + "-")["MetricAlarms"]
    assert len(alarms) == 9
    topic = [t["TopicArn"] for t in aws("sns", region).list_topics()["Topics"] if t["TopicArn"].endswith(prefix + "-alarms")]
    assert all(a["AlarmActions"] == topic and a["OKActions"] == topic for a in alarms)
    alb = aws("elbv2", region).describe_load_balancers(Names=[prefix + "-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
    dims = {d["Value"] for a in alarms for d in a.get("Dimensions", [])}
    assert {prefix + "-cluster", prefix + "-ehrbase", prefix + "-db", alb.split(":loadbalancer/")[1]} <= dims
    health = aws("cloudwatch", "us-east-1").describe_alarms(AlarmNamePrefix=prefix + "-route53-health")["MetricAlarms"]
    assert len(health) == 1 and health[0]["Dimensions"][0]["Name"] == "HealthCheckId"


def test_one_dashboard_and_the_budget(first_run):
    body = aws("cloudwatch", "eu-west-1").get_dashboard(DashboardName="medzen-local-ehrbase")["DashboardBody"]
    for prefix in ("medzen-local-euw1", "medzen-local-euc1", "medzen-local-afs1"):
        assert prefix + "-cluster" in body and prefix + "-db" in body
    account = aws("sts").get_caller_identity()["Account"]
    budget = aws("budgets", "us-east-1").describe_budget(AccountId=account, BudgetName="medzen-local-ehrbase-monthly")
    assert float(budget["Budget"]["BudgetLimit"]["Amount"]) == 1500


def test_failover_drill_and_rollback_run_end_to_end(first_run):
    rc, out = run_playbook("playbooks/failover_drill.yml", "-e", "drill_region=eu-west-1")
    assert rc == 0, out[-4000:]
    assert "Africa -> af-south-1, Europe -> eu-central-1, elsewhere -> eu-central-1" in out
    assert "detected down after" in out and "healthy again" in out
    rc, out = run_playbook("playbooks/rollback_single_region.yml")
    assert rc == 0, out[-4000:]
    assert "Africa -> eu-west-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    ecs = aws("ecs", "af-south-1")
    svc = ecs.describe_services(cluster="medzen-local-afs1-cluster", services=["medzen-local-afs1-ehrbase"])["services"][0]
    assert svc["desiredCount"] == 0 and svc["status"] == "ACTIVE"  # scaled, not deleted
    rc, out = run_playbook("playbooks/rollback_single_region.yml")
    assert rc == 0 and all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)
    # Undo = site.yml: the tree and the task counts come back, every region verified.
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-4000:]
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    svc = ecs.describe_services(cluster="medzen-local-afs1-cluster", services=["medzen-local-afs1-ehrbase"])["services"][0]
    assert svc["desiredCount"] == 2


# --- Day-2 operations on the converged deployment: diagnose, maintenance report, cost report ------------------

PREFIX = {"eu-west-1": "medzen-local-euw1", "eu-central-1": "medzen-local-euc1", "af-south-1": "medzen-local-afs1"}


def diagnose(tmp_path, *args):
    report = tmp_path / "diagnose.json"
    if report.exists():
        report.unlink()
    rc, out = run_playbook("playbooks/diagnose.yml", "-e", "report_file=%s" % report, *args)
    data = json.loads(report.read_text())["regions"] if report.exists() else {}
    return rc, out, data


def wait_until_one_deployment(region, timeout=60):
    """Let a rollout a test started finish (the emulated ECS completes a good one in seconds)."""
    ecs = aws("ecs", region)
    p = PREFIX[region]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"][0]
        if [d["rolloutState"] for d in svc["deployments"] if d["status"] != "INACTIVE"] == ["COMPLETED"]:
            return
        time.sleep(1)
    raise AssertionError("the rollout in %s did not finish: %s" % (region, svc["deployments"]))


def assert_only_region_named(rc, out, data, region, words):
    assert rc == 2, out[-3000:]
    assert data[region]["status"] != "healthy" and words in data[region]["summary"], data[region]
    assert all(data[r]["status"] == "healthy" for r in REGIONS if r != region), data


def test_diagnose_says_every_region_is_healthy(first_run, tmp_path):
    rc, out, data = diagnose(tmp_path)
    assert rc == 0, out[-3000:]
    assert {r: data[r]["status"] for r in REGIONS} == {r: "healthy" for r in REGIONS}, data
    assert "HEALTHY  eu-west-1 healthy" in out
    assert "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in out
    # -v shows the raw evidence; the run changes nothing in AWS (only the report file on the controller).
    rc, out, data = diagnose(tmp_path, "-v", "--check")
    assert rc == 0 and "__diagnose.evidence" in out and "TargetHealth" in out


def test_diagnose_names_a_service_scaled_to_zero(first_run, tmp_path):
    ecs = aws("ecs", "eu-central-1")
    p = PREFIX["eu-central-1"]
    ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=0)
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-central-1", "service at 0 desired tasks")
        assert "Africa -> af-south-1, Europe -> eu-west-1" in out
    finally:
        ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=2)


def test_diagnose_names_an_image_that_never_becomes_healthy(first_run, tmp_path):
    ecs = aws("ecs", "eu-west-1")
    p = PREFIX["eu-west-1"]
    svc = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "requiresCompatibilities",
            "cpu", "memory")
    broken = {k: td[k] for k in keep if k in td}
    broken["containerDefinitions"][0]["image"] = "ehrbase/ehrbase:2.32.0-broken"
    arn = ecs.register_task_definition(**broken)["taskDefinition"]["taskDefinitionArn"]
    # Without the circuit breaker ECS keeps starting tasks that exit, while the old ones serve (min healthy 100 %).
    config = svc.get("deploymentConfiguration") or {"maximumPercent": 200, "minimumHealthyPercent": 100}
    stuck = dict(config, deploymentCircuitBreaker={"enable": False, "rollback": False})
    ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", taskDefinition=arn, deploymentConfiguration=stuck)
    try:
        time.sleep(8)  # the emulated tasks start and exit after 6 s
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-west-1", "tasks stop: Essential container in task exited")
        assert "ehrbase/ehrbase:2.32.0-broken" in data["eu-west-1"]["summary"]
    finally:
        ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", taskDefinition=svc["taskDefinition"],
                           deploymentConfiguration=config)
        ecs.deregister_task_definition(taskDefinition=arn)
        wait_until_one_deployment("eu-west-1")


def test_diagnose_names_a_health_path_that_needs_a_login(first_run, tmp_path):
    elb = aws("elbv2", "af-south-1")
    tg = elb.describe_target_groups(Names=[PREFIX["af-south-1"] + "-tg"])["TargetGroups"][0]
    elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath="/ehrbase/rest/status")
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "af-south-1",
                                 "0/2 targets healthy (Target.ResponseCodeMismatch 401 on /ehrbase/rest/status)")
        assert "actuator settings of the task definition" in data["af-south-1"]["summary"]
    finally:
        elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath=tg["HealthCheckPath"])


def test_diagnose_names_a_removed_rule_between_alb_and_tasks(first_run, tmp_path):
    ec2 = aws("ec2", "eu-west-1")
    p = PREFIX["eu-west-1"]
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [p + "-alb-sg", p + "-ecs-sg"]}])["SecurityGroups"]}
    ecs_sg, alb_sg = groups[p + "-ecs-sg"], groups[p + "-alb-sg"]
    rule = [perm for perm in ecs_sg["IpPermissions"]
            if any(pair["GroupId"] == alb_sg["GroupId"] for pair in perm.get("UserIdGroupPairs", []))]
    assert rule, ecs_sg
    ec2.revoke_security_group_ingress(GroupId=ecs_sg["GroupId"], IpPermissions=rule)
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-west-1", "no rule lets the ALB security group reach the tasks")
        whats = " ".join(f["what"] for f in data["eu-west-1"]["findings"])
        assert "Target.Timeout" in whats
    finally:
        ec2.authorize_security_group_ingress(GroupId=ecs_sg["GroupId"], IpPermissions=rule)


def test_diagnose_names_a_stopped_database(first_run, tmp_path):
    rds = aws("rds", "eu-central-1")
    db = PREFIX["eu-central-1"] + "-db"
    rds.stop_db_instance(DBInstanceIdentifier=db)
    try:
        rc, out, data = diagnose(tmp_path)
        assert_only_region_named(rc, out, data, "eu-central-1", "database %s is stopped" % db)
        assert "start-db-instance --region eu-central-1" in data["eu-central-1"]["summary"]
    finally:
        rds.start_db_instance(DBInstanceIdentifier=db)
    rc, out, data = diagnose(tmp_path)
    assert rc == 0, out[-3000:]


def test_maintenance_report_has_its_table_and_json_and_fails_on_an_old_backup(first_run, tmp_path):
    report = tmp_path / "weekly.json"
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", "report_file=%s" % report)
    assert rc == 0, out[-4000:]
    for words in ("backup: newest", "cross-region copy: not configured", "pending maintenance: none",
                  "secret medzen-local-euw1/ehrbase/db-master: last changed 0 days ago", "task definitions in use",
                  "cost 20"):
        assert words in out, words
    data = json.loads(report.read_text())
    assert sorted(data["regions"]) == sorted(REGIONS)
    for region in REGIONS:
        entry = data["regions"][region]
        assert entry["failed_checks"] == [] and entry["report"]["backup"]["ok"]
        assert len(entry["report"]["secrets"]) == 5 and entry["report"]["task_definitions_in_use"]
    assert data["cost"]["budget"]["limit"] == 1500
    # An alarm that fired is listed for its region only.
    cw = aws("cloudwatch", "af-south-1")
    alarm = cw.describe_alarms(AlarmNamePrefix=PREFIX["af-south-1"] + "-")["MetricAlarms"][0]["AlarmName"]
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", "report_file=%s" % report, "-l", "af-south-1,eu-west-1")
    data = json.loads(report.read_text())
    assert [a["alarm"] for a in data["regions"]["af-south-1"]["report"]["alarms_fired"]] == [alarm]
    assert data["regions"]["eu-west-1"]["report"]["alarms_fired"] == []
    # The backup-age threshold fails the report, naming the region and the age.
    rc, out = run_playbook("playbooks/maintenance_report.yml", "-e", "maintenance_backup_max_age_hours=0",
                           "-e", "report_format=json", "-l", "eu-west-1")
    assert rc == 2 and "eu-west-1: newest backup is" in out and "(limit 0)" in out, out[-3000:]


def test_cost_report_by_region_and_service_beside_estimate_and_budget(first_run, tmp_path):
    report = tmp_path / "cost.json"
    rc, out = run_playbook("playbooks/cost_report.yml", "-e", "report_file=%s" % report,
                           "-e", "cost_start=2026-10-01", "-e", "cost_end=2026-11-01")
    assert rc == 0, out[-4000:]
    assert "Actual cost 2026-10-01 .. 2026-11-01" in out and "Amazon Relational Database Service" in out
    data = json.loads(report.read_text())
    assert sorted(data["by_region"]) == sorted(list(REGIONS) + ["global"])
    assert abs(sum(data["by_region"].values()) - data["total"]) < 0.05
    assert abs(sum(data["by_service"].values()) - data["total"]) < 0.05
    assert data["forecast_month_total"] is None  # a past month has no forecast
    assert data["budget"]["limit"] == 1500 and sorted(data["estimate_month_by_region"]) == sorted(REGIONS)
    # Month to date (the default) comes with the month's forecast.
    rc, out = run_playbook("playbooks/cost_report.yml", "-e", "report_file=%s" % report)
    assert rc == 0, out[-4000:]
    data = json.loads(report.read_text())
    assert data["forecast_month_total"] is not None and data["forecast_month_total"] >= data["total"]


# --- Releases: upgrade.yml and site.yml behind the release gate ----------------------------------------------

RELEASE_ORDER = ["eu-central-1", "af-south-1", "eu-west-1"]


def running(region):
    """(task-definition ARN, image, number of deployments) the region's service runs now."""
    ecs = aws("ecs", region)
    p = PREFIX[region]
    svc = ecs.describe_services(cluster=p + "-cluster", services=[p + "-ehrbase"])["services"][0]
    image = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]["containerDefinitions"][0]["image"]
    return svc["taskDefinition"], image, len([d for d in svc["deployments"] if d["status"] in ("PRIMARY", "ACTIVE")])


def revisions(region):
    return aws("ecs", region).list_task_definitions(familyPrefix=PREFIX[region] + "-ehrbase")["taskDefinitionArns"]


class Probe:
    """Keeps requesting every region's EHRbase (its stand-in) during a release and counts failed answers."""

    def __init__(self):
        import threading

        self.failures, self.requests, self.stop = [], 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        import os
        import urllib.request

        offset = int(os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "0"))
        while not self.stop.is_set():
            for i, region in enumerate(REGIONS):
                url = "http://127.0.0.1:%d/ehrbase/management/health" % (18080 + offset + i)
                try:
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        ok = resp.status == 200
                except Exception as exc:  # any error is a failed request for the probe
                    ok, resp = False, exc
                self.requests += 1
                if not ok:
                    self.failures.append((region, str(resp)))
            self.stop.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def test_upgrade_refuses_latest_and_a_region_that_is_unhealthy_now(first_run):
    before = {r: revisions(r) for r in REGIONS}
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=latest")
    assert rc != 0 and "ecs_ehrbase_version=latest: a release needs a pinned EHRbase tag" in out, out[-3000:]
    ecs = aws("ecs", "af-south-1")
    p = PREFIX["af-south-1"]
    ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=0)
    try:
        rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0")
        assert rc != 0 and "Not releasing: af-south-1 unhealthy: service at 0 desired tasks" in out, out[-3000:]
    finally:
        ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=2)
    assert {r: revisions(r) for r in REGIONS} == before


def test_upgrade_check_mode_says_what_it_would_release_and_changes_nothing(first_run):
    before = {r: revisions(r) for r in REGIONS}
    rc, out = run_playbook("playbooks/upgrade.yml", "--check", "-e", "ecs_ehrbase_version=2.31.0")
    assert rc == 0, out[-3000:]
    for region in REGIONS:
        assert "Would release ehrbase/ehrbase:2.31.0 in %s" % region in out
    assert {r: revisions(r) for r in REGIONS} == before


def test_good_upgrade_region_by_region_with_no_failed_request(first_run):
    with Probe() as probe:
        rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0")
    assert rc == 0, out[-5000:]
    released = re.findall(r"^TASK \[medzen\.ehrbase\.ecs : Released in ([a-z0-9-]+): ehrbase/ehrbase:2\.31\.0\]", out, re.M)
    assert released == RELEASE_ORDER, released
    for region in REGIONS:
        arn, image, deployments = running(region)
        assert image == "ehrbase/ehrbase:2.31.0" and deployments == 1, (region, image, deployments)
        rds = aws("rds", region)
        snaps = rds.describe_db_snapshots(DBInstanceIdentifier=PREFIX[region] + "-db", SnapshotType="manual")["DBSnapshots"]
        assert any(s["DBSnapshotIdentifier"].startswith(PREFIX[region] + "-pre-2-31-0-") for s in snaps), region
    assert probe.requests > 20 and probe.failures == [], probe.failures[:5]
    assert "Rollout - IN_PROGRESS after" in out and "Rollout - COMPLETED after" in out
    # A re-run releases nothing.
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0")
    assert rc == 0 and all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)


def test_bad_upgrade_stops_at_the_first_region_and_puts_it_back(first_run):
    before = {r: running(r) for r in REGIONS}
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.32.0-broken")
    assert rc != 0, out[-4000:]
    assert "RELEASE FAILED in eu-central-1: ehrbase/ehrbase:2.32.0-broken" in out, out[-4000:]
    assert "circuit breaker" in out and "Essential container in task exited" in out
    assert "eu-central-1 is back on" in out and "healthy again" in out
    assert "medzen-local-euc1-pre-2-32-0-broken-" in out
    assert running("eu-central-1") == before["eu-central-1"]
    assert running("af-south-1") == before["af-south-1"] and running("eu-west-1") == before["eu-west-1"]
    rc, out = run_playbook("playbooks/verify.yml", "-l", "eu-central-1")
    assert rc == 0, out[-3000:]


def test_site_with_a_broken_version_stops_after_the_first_region(first_run):
    before = {r: running(r) for r in REGIONS}
    rc, out = run_playbook("site.yml", "-e", "ecs_ehrbase_version=2.32.0-broken")
    assert rc != 0 and "RELEASE FAILED in eu-west-1" in out, out[-4000:]
    assert {r: running(r) for r in REGIONS} == before
    # Back to the inventory's version through the same gate: the primary alone, then the two others - which run
    # beside each other - release in turn, one region at a time, in the play after.
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-4000:]
    released = re.findall(r"^TASK \[medzen\.ehrbase\.ecs : Released in ([a-z0-9-]+): ", out, re.M)
    assert released == ["eu-west-1", "eu-central-1", "af-south-1"], released
    waiting = out[out.index("PLAY [Region - releases waiting for their turn"):]
    assert "Released in eu-central-1" in waiting and "Released in af-south-1" in waiting
    assert "Released in eu-west-1" not in waiting
    assert all(running(r)[1] == "ehrbase/ehrbase:2.30.0" for r in REGIONS)


# Backup copies, the backup drill and a region's recovery. The recovery test changes what eu-central-1 serves, so it
# runs last in this module.
PARTNERS = {"eu-west-1": "eu-central-1", "eu-central-1": "eu-west-1", "af-south-1": "eu-west-1"}
SHORT = {"eu-west-1": "euw1", "eu-central-1": "euc1", "af-south-1": "afs1"}


def standin(region):
    return "http://127.0.0.1:%d/ehrbase" % (18080 + int(os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "0"))
                                            + REGIONS.index(region))


def api_auth(region):
    import base64

    secret = aws("secretsmanager", region).get_secret_value(SecretId="medzen-local-%s/ehrbase/api-user" % SHORT[region])
    api = json.loads(secret["SecretString"])
    return "Basic " + base64.b64encode(("%s:%s" % (api["username"], api["password"])).encode()).decode()


def create_ehrs(region, count):
    import urllib.request

    ids = []
    for dummy in range(count):
        req = urllib.request.Request(standin(region) + "/rest/openehr/v1/ehr", data=b"", method="POST",
                                     headers={"Authorization": api_auth(region)})
        with urllib.request.urlopen(req, timeout=10) as resp:
            ids.append(resp.headers["Location"].rsplit("/", 1)[1])
    return ids


def read_ehr(region, ehr_id, credentials_of):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(standin(region) + "/rest/openehr/v1/ehr/" + ehr_id,
                                 headers={"Authorization": api_auth(credentials_of)})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def localenv(*args):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, os.path.join(ROOT, "local", "localenv.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def instances(region):
    return [d["DBInstanceIdentifier"] for d in aws("rds", region).describe_db_instances()["DBInstances"]]


def restored_servers_gone(timeout=15):
    import backups

    deadline = time.monotonic() + timeout
    while backups.restored_servers() and time.monotonic() < deadline:
        time.sleep(0.5)
    return not backups.restored_servers()


def check_copies(region, partner):
    copies = [c for c in aws("rds", partner).describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
              if c["DBInstanceIdentifier"] == "medzen-local-%s-db" % SHORT[region]]
    key = aws("kms", partner).describe_key(KeyId="alias/medzen-local-%s-ehrbase-copies" % SHORT[region])["KeyMetadata"]
    assert len(copies) == 1, copies
    assert copies[0]["Status"] == "replicating" and copies[0]["Region"] == region
    assert copies[0]["BackupRetentionPeriod"] == 7 and copies[0]["KmsKeyId"] == key["Arn"]
    assert copies[0]["RestoreWindow"].get("LatestTime"), "no copy taken yet"
    assert aws("kms", partner).get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]


def check_secret_replicas(region, partner, key_arn):
    for name in ("db-master", "db-owner", "db-app", "api-user", "api-admin"):
        secret_id = "medzen-local-%s/ehrbase/%s" % (SHORT[region], name)
        status = aws("secretsmanager", region).describe_secret(SecretId=secret_id).get("ReplicationStatus", [])
        assert [(s["Region"], s.get("KmsKeyId")) for s in status] == [(partner, key_arn)], (secret_id, status)
        assert aws("secretsmanager", partner).get_secret_value(SecretId=secret_id)["SecretString"]


def test_backup_copies_and_secret_replicas_are_in_the_partner_region(first_run):
    for region, partner in PARTNERS.items():
        check_copies(region, partner)
        key = aws("kms", partner).describe_key(KeyId="alias/medzen-local-%s-ehrbase-copies" % SHORT[region])
        check_secret_replicas(region, partner, key["KeyMetadata"]["Arn"])


def test_backup_drill_restores_every_ehr_of_the_copy_and_deletes_its_instance(first_run):
    before = create_ehrs("eu-west-1", 3)
    localenv("backup", "eu-west-1")
    after = create_ehrs("eu-west-1", 1)
    rc, out = run_playbook("playbooks/backup_drill.yml", "-e", "drill_region=eu-west-1")
    assert rc == 0, out[-4000:]
    flat = " ".join(out.split())  # the callback folds long messages
    assert "Backup drill eu-west-1 -> eu-central-1: PASS" in flat and "-> match" in flat
    # The newest EHR restored is the last one created before the copy; the one created after is not in it.
    report = flat[flat.index("Backup drill eu-west-1 -> eu-central-1"):]
    assert "newest EHR restored %s" % before[-1] in report and after[0] not in report.split("newest in the source", maxsplit=1)[0]
    assert "bootstrap on the copy (check mode): no change" in flat
    assert "medzen-local-euw1-db-drill" not in instances("eu-central-1")
    assert restored_servers_gone()


def test_a_backup_drill_that_fails_midway_still_deletes_its_instance(first_run):
    rc, out = run_playbook("playbooks/backup_drill.yml", "-e", "drill_region=af-south-1", "-e", "drill_db_port=1")
    assert rc != 0 and "Could not read EHRbase's records in restored copy medzen-local-afs1-db-drill" in out, out[-3000:]
    assert "Delete the temporary instance" in out
    assert "medzen-local-afs1-db-drill" not in instances("eu-west-1")
    assert restored_servers_gone()


def test_a_lost_region_is_recovered_in_its_partner_with_its_api_only(first_run):
    ids = create_ehrs("eu-west-1", 3)
    localenv("backup", "eu-west-1")
    localenv("lose", "eu-west-1")
    try:
        # Without the confirmation: restored and reported, not switched.
        rc, out = run_playbook("playbooks/recover_region.yml", "-e", "lost_region=eu-west-1")
        assert rc != 0 and "Not switching eu-central-1's EHRbase to the recovered database" in out, out[-3000:]
        assert "received 0 EHRs since the recovery point" in " ".join(out.split())
        assert read_ehr("eu-central-1", ids[0], "eu-central-1") == 404
        rc, out = run_playbook("playbooks/recover_region.yml", "-e", "lost_region=eu-west-1",
                               "-e", "recover_confirm=eu-west-1")
        assert rc == 0, out[-4000:]
        flat = " ".join(out.split())  # the callback folds long messages
        assert "the global name answers EU from eu-central-1" in flat and "read back OK" in flat
        # Every EHR created before the copy, read from eu-central-1 with eu-central-1's own API user.
        assert [read_ehr("eu-central-1", i, "eu-central-1") for i in ids] == [200, 200, 200]
        # Nothing called the lost region's API (the emulator logs every call it refused).
        calls = os.path.join(os.environ["EHRBASE_LOCAL_STATE"], "lost", "eu-west-1.calls")
        assert not os.path.exists(calls), open(calls).read()
        # A later run that does not declare the recovery stops before switching eu-central-1 back.
        rc, out = run_playbook("site.yml", "-l", "eu-central-1", "-e", '{"ehrbase_unreachable_regions": ["eu-west-1"]}')
        assert rc != 0 and "holds medzen-local-euw1-db-recovered" in out, out[-3000:]
        assert [read_ehr("eu-central-1", i, "eu-central-1") for i in ids] == [200, 200, 200]
    finally:
        localenv("restore", "eu-west-1")
    # Failback (docs/backups.md): eu-west-1 answers again; eu-central-1 goes back to its own database, knowingly.
    rc, out = run_playbook("site.yml", "-e", "rds_serve_recovered_from=own")
    assert rc == 0, out[-4000:]
    assert read_ehr("eu-central-1", ids[0], "eu-central-1") == 404 and read_ehr("eu-west-1", ids[0], "eu-west-1") == 200
    # The test's own clean-up (an operator keeps the recovered database until its records are merged back).
    aws("rds", "eu-central-1").delete_db_instance(DBInstanceIdentifier="medzen-local-euw1-db-recovered",
                                                  SkipFinalSnapshot=True)
    assert restored_servers_gone()
