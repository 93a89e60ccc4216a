"""The from-empty build: `--check` on an empty account, then every tier of every region as designed, the
verify table, the region order, and the build steps that must stop or adopt rather than duplicate.

Runs on the shared deployment (tests/integration/conftest.py): its first test empties the emulator, so the
deployment is built from empty here, by `site.yml`.
"""

import ipaddress
import json
import os
import re
import time

import backups
import pg
import psycopg2
import pytest

from helpers import PREFIX, REGIONS, ROOT, SHORT, STANDBY, aws, emulator_reset, recap, run_playbook, unfolded

PLAN = {
    "eu-west-1": "10.0",
    "eu-central-1": "10.1",
    "af-south-1": "10.2",
}


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
    # Check mode changes nothing, so every region is read at once and each is reported even if another fails.
    assert batches(out, "TASK [medzen.ehrbase.network : VPC") == [["af-south-1", "eu-central-1", "eu-west-1"]]
    assert "at once (check mode: nothing changes, so every region is read side by side)" in out


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


def test_site_builds_every_region(deployment):
    rc, out = deployment
    assert rc == 0, out[-5000:]
    assert list(recap(out)) and all(recap(out)[r]["failed"] == 0 for r in REGIONS)
    # A first build: no region serves anyone yet, so the primary's head start protects nothing - every region at once
    # (test_fast_path_and_drift.py has the primary first on a deployed one).
    assert batches(out, "TASK [medzen.ehrbase.network : VPC") == [["af-south-1", "eu-central-1", "eu-west-1"]]
    assert "Rollout - eu-west-1 + eu-central-1 + af-south-1 at once (a first build: no region serves anyone yet)" in out


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
def test_network_is_exactly_as_designed(deployment, region):
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
def test_data_tier_is_encrypted_multi_az_and_private(deployment, region):
    rds = aws("rds", region)
    short = SHORT[region]
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
def test_database_is_bootstrapped_for_ehrbase(deployment, region):
    # A warm standby's database is a replica (a server of its own, replicas.py): its bootstrap is its source's.
    port = backups.restored_servers()[PREFIX[region] + "-db"] if region in STANDBY else pg.port(region)
    conn = psycopg2.connect(host=pg.socket_for_port(port), port=port, user="postgres", dbname="ehrbase")
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


def test_verify_table_is_green_for_every_region(deployment):
    rc, out = deployment
    table = out[out.index("TASK [Verify results]"):out.index("TASK [Fail for an unhealthy region]")]
    for region in REGIONS:
        line = next(l for l in table.splitlines() if l.strip(" -").startswith(region))
        # A warm standby takes no write: its EHR column says so.
        assert line.split()[2:5] == ["ok", "ok", "-" if region in STANDBY else "ok"], line


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
def test_app_tier_is_as_designed(deployment, region):
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


def test_a_new_certificate_nobody_validates_stops_at_once_with_the_records(deployment, tmp_path):
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
    text = unfolded(out)
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


def test_a_key_left_without_its_alias_is_adopted_never_duplicated(deployment):
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
        text = unfolded(out)
        assert rc != 0 and "2 KMS keys of this deployment without the alias" in text and twin in text, out[-3000:]
        assert "Nothing was changed" in text
    finally:
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        kms.schedule_key_deletion(KeyId=twin, PendingWindowInDays=7)
