"""The plan validator: every rule has a passing and a failing plan."""

import copy

import pytest

from ansible_collections.medzen.ehrbase.plugins.module_utils.names import (
    global_names,
    primary_region,
    region_short,
    resource_names,
    subnet_layout,
)
from ansible_collections.medzen.ehrbase.plugins.module_utils.plan import validate_plan


def region(role, n, az=None):
    r = {"eu-west-1": "eu-west-1", 0: "eu-west-1", 1: "eu-central-1", 2: "af-south-1"}[n]
    return {
        "ehrbase_project": "medzen",
        "ehrbase_environment": "prod",
        "ehrbase_domain": "ehr.medzenhealth.app",
        "ehrbase_region_role": role,
        "ehrbase_name_prefix": "medzen-prod-" + region_short(r),
        "network_vpc_cidr": "10.%d.0.0/16" % n,
        "network_public_subnets": [{"cidr": "10.%d.1.0/24" % n, "az": r + "a"},
                                   {"cidr": "10.%d.2.0/24" % n, "az": r + "b"}],
        "network_private_subnets": [{"cidr": "10.%d.11.0/24" % n, "az": r + "a"},
                                    {"cidr": "10.%d.12.0/24" % n, "az": r + "b"}],
        "network_rds_admin_cidrs": [],
    }


def good_plan():
    return {"eu-west-1": region("primary", 0), "eu-central-1": region("secondary", 1),
            "af-south-1": region("africa", 2)}


def one_error(plan, *needles):
    errors = validate_plan(plan)
    assert len(errors) >= 1, "expected an error containing %s" % (needles,)
    text = "\n".join(errors)
    for needle in needles:
        assert needle in text, text
    # Every message names what to do.
    assert all("Fix:" in e for e in errors), errors
    return errors


def test_medzen_plan_is_valid():
    assert validate_plan(good_plan()) == []


@pytest.mark.parametrize("name,short", [("eu-west-1", "euw1"), ("eu-central-1", "euc1"),
                                        ("af-south-1", "afs1"), ("ap-southeast-2", "apse2")])
def test_region_short(name, short):
    assert region_short(name) == short


def test_vpcs_overlapping_between_regions():
    plan = good_plan()
    plan["eu-central-1"]["network_vpc_cidr"] = "10.0.0.0/16"
    for sub in plan["eu-central-1"]["network_public_subnets"] + plan["eu-central-1"]["network_private_subnets"]:
        sub["cidr"] = sub["cidr"].replace("10.1.", "10.0.")
    one_error(plan, "network_vpc_cidr (region eu-central-1) = '10.0.0.0/16'", "overlaps the VPC of eu-west-1")


def test_subnet_outside_vpc():
    plan = good_plan()
    plan["eu-west-1"]["network_private_subnets"][1]["cidr"] = "10.9.12.0/24"
    one_error(plan, "network_private_subnets[1].cidr (region eu-west-1) = '10.9.12.0/24'", "outside the VPC")


def test_subnets_overlapping_within_vpc():
    plan = good_plan()
    plan["eu-west-1"]["network_private_subnets"][0]["cidr"] = "10.0.1.0/24"
    one_error(plan, "overlaps network_public_subnets[0]")


def test_single_az():
    plan = good_plan()
    plan["eu-west-1"]["network_public_subnets"][1]["az"] = "eu-west-1a"
    one_error(plan, "2 distinct AZs")


def test_az_of_another_region():
    plan = good_plan()
    plan["af-south-1"]["network_public_subnets"][0]["az"] = "eu-west-1a"
    one_error(plan, "is not an Availability Zone of af-south-1")


def test_private_azs_must_match_public():
    plan = good_plan()
    plan["eu-west-1"]["network_private_subnets"][1]["az"] = "eu-west-1c"
    one_error(plan, "same AZs as the public ones")


def test_unknown_region():
    plan = good_plan()
    plan["eu-nowhere-9"] = plan.pop("af-south-1")
    one_error(plan, "ehrbase_region = 'eu-nowhere-9'", "is not an AWS region name")


def test_name_too_long():
    plan = good_plan()
    plan["eu-west-1"]["ehrbase_name_prefix"] = "medzen-production-environment-euw1"
    one_error(plan, "application load balancer name", "AWS allows 32")


def test_missing_domain():
    plan = good_plan()
    for r in plan.values():
        r["ehrbase_domain"] = None
    one_error(plan, "ehrbase_domain = None", "is required")


def test_invalid_domain():
    plan = good_plan()
    for r in plan.values():
        r["ehrbase_domain"] = "EHR_Medzen"
    one_error(plan, "not a valid lower-case DNS name")


def test_wrong_type_for_subnets():
    plan = good_plan()
    plan["eu-west-1"]["network_public_subnets"] = "10.0.1.0/24"
    one_error(plan, "network_public_subnets (region eu-west-1) = '10.0.1.0/24'", "exactly 2 subnets")


def test_invalid_cidr():
    plan = good_plan()
    plan["eu-west-1"]["network_vpc_cidr"] = "10.0.0.1/16"
    one_error(plan, "network_vpc_cidr (region eu-west-1) = '10.0.0.1/16'", "not a valid IPv4 network")


def test_vpc_too_large():
    plan = good_plan()
    plan["eu-west-1"]["network_vpc_cidr"] = "10.0.0.0/8"
    one_error(plan, "between /16 and /28")


def test_two_primaries():
    plan = good_plan()
    plan["eu-central-1"]["ehrbase_region_role"] = "primary"
    one_error(plan, "exactly one region must be the primary")


def test_backup_partner_must_be_another_region_of_the_plan():
    plan = good_plan()
    for region_name, partner in (("eu-west-1", "eu-central-1"), ("eu-central-1", "eu-west-1"), ("af-south-1", "eu-west-1")):
        plan[region_name]["ehrbase_backup_partner"] = partner
    assert validate_plan(plan) == []
    plan["af-south-1"]["ehrbase_backup_partner"] = "af-south-1"
    one_error(plan, "ehrbase_backup_partner (region af-south-1) = 'af-south-1': copies in the region they protect")
    plan["af-south-1"]["ehrbase_backup_partner"] = "us-east-1"
    one_error(plan, "'us-east-1': is not a region of this deployment")
    plan["af-south-1"]["rds_backup_copy_region"] = ""  # an explicit override wins: no copies (data residency)
    assert validate_plan(plan) == []


def standby_plan(topology):
    plan = good_plan()
    for region_name, partner in (("eu-west-1", "eu-central-1"), ("eu-central-1", "eu-west-1"), ("af-south-1", "eu-west-1")):
        plan[region_name]["ehrbase_backup_partner"] = partner
        plan[region_name]["rds_engine_version"] = "16.8"
    for r in plan.values():
        r["ehrbase_standby"] = topology
    return plan


def test_standby_topology_default_and_none_are_valid():
    assert validate_plan(standby_plan({"eu-central-1": "eu-west-1"})) == []
    assert validate_plan(standby_plan({})) == []


@pytest.mark.parametrize("topology,needle", [
    ({"eu-central-1": "us-east-1"}, "us-east-1 is not a region of this deployment"),
    ({"eu-central-1": "eu-central-1"}, "cannot stand by for itself"),
    ({"eu-west-1": "eu-central-1"}, "eu-west-1 is the primary"),
    ({"eu-central-1": "eu-west-1", "af-south-1": "eu-central-1"}, "eu-central-1 is itself a standby (of eu-west-1)"),
    ({"eu-central-1": "af-south-1"}, "the standby must be that partner"),
    (["eu-central-1"], "must be a mapping of standby region to source region"),
])
def test_standby_topology_rules(topology, needle):
    one_error(standby_plan(topology), "ehrbase_standby", needle)


def test_standby_runs_its_sources_major_version_and_not_from_a_resident_region():
    plan = standby_plan({"eu-central-1": "eu-west-1"})
    plan["eu-central-1"]["rds_engine_version"] = "17.2"
    one_error(plan, "PostgreSQL 17 (standby) and 16 (source)")
    plan = standby_plan({"eu-central-1": "eu-west-1"})
    plan["eu-west-1"]["rds_backup_copy_region"] = ""  # data residency: eu-west-1's records stay there
    one_error(plan, "backup partner only ('none')")


def test_wide_admin_cidr():
    plan = good_plan()
    plan["eu-west-1"]["network_rds_admin_cidrs"] = ["0.0.0.0/0"]
    one_error(plan, "network_rds_admin_cidrs[0]", "must be narrow")
    plan["eu-west-1"]["network_rds_admin_cidrs"] = ["203.0.113.10/32"]
    assert validate_plan(plan) == []


def test_bad_environment_name():
    plan = good_plan()
    for r in plan.values():
        r["ehrbase_environment"] = "Prod Env"
    one_error(plan, "ehrbase_environment = 'Prod Env'")


def test_no_regions():
    assert "no region to deploy" in validate_plan({})[0]


def test_subnet_layout_names():
    r = region("primary", 0)
    names = [s["name"] for s in subnet_layout(r["network_public_subnets"], r["network_private_subnets"], "p")]
    assert names == ["p-public-a", "p-public-b", "p-private-a", "p-private-b"]


def test_validator_does_not_mutate_input():
    plan = good_plan()
    before = copy.deepcopy(plan)
    validate_plan(plan)
    assert plan == before


@pytest.mark.parametrize("var,bad,good,needle", [
    ("rds_engine_version", "99.9", "16.8", "PostgreSQL 16.x"),
    ("rds_instance_class", "db.bogus", "db.r6g.xlarge", "not an RDS PostgreSQL instance class"),
    ("rds_allocated_storage", 5, 100, "20-65536 GB"),
    ("rds_backup_retention_days", 0, 7, "1-35 days"),
    ("rds_password_length", 12, 40, "32-99 characters"),
])
def test_database_settings(var, bad, good, needle):
    plan = good_plan()
    plan["eu-west-1"][var] = bad
    one_error(plan, "%s (region eu-west-1) = %r" % (var, bad), needle)
    plan["eu-west-1"][var] = good
    assert validate_plan(plan) == []


@pytest.mark.parametrize("changes,needle", [
    ({"ecs_ehrbase_version": "latest"}, "ecs_ehrbase_version (region eu-west-1) = 'latest'"),
    ({"ecs_ehrbase_version": "2.29.0"}, "is older than 2.30.0"),
    ({"ecs_ehrbase_version": 2.3}, "YAML read it as a float"),
    ({"ecs_task_cpu": 1024, "ecs_task_memory": 1024}, "is not a Fargate size"),
    ({"ecs_min_count": 1}, "cannot cover both Availability Zones"),
    ({"ecs_desired_count": 6}, "must lie within ecs_min_count..ecs_max_count (2..4)"),
    ({"ecs_health_check_grace_period": 60}, "below 180 s"),
])
def test_app_settings(changes, needle):
    plan = good_plan()
    plan["eu-west-1"].update(changes)
    one_error(plan, needle)


def test_app_settings_valid():
    plan = good_plan()
    plan["eu-west-1"].update(ecs_ehrbase_version="2.32.0-rc.1", ecs_task_cpu=2048, ecs_task_memory=4096,
                             ecs_min_count=2, ecs_desired_count=3, ecs_max_count=6, ecs_health_check_grace_period=240)
    assert validate_plan(plan) == []


def test_resource_names_come_from_one_rule():
    names = resource_names("medzen-prod-euw1")
    assert names["cluster"] == "medzen-prod-euw1-cluster"
    assert names["alb"] == "medzen-prod-euw1-alb" and names["target_group"] == "medzen-prod-euw1-tg"
    assert names["db_parameter_group"] == "medzen-prod-euw1-pg16"
    assert resource_names("p", engine_major=17)["db_parameter_group"] == "p-pg17"
    assert names["log_group"] == "/ecs/medzen-prod-euw1-ehrbase"
    assert names["nat_gateway"].format(az="a") == "medzen-prod-euw1-nat-a"
    assert names["secrets"] == {
        "master": "medzen-prod-euw1/ehrbase/db-master", "owner": "medzen-prod-euw1/ehrbase/db-owner",
        "app": "medzen-prod-euw1/ehrbase/db-app", "api_user": "medzen-prod-euw1/ehrbase/api-user",
        "api_admin": "medzen-prod-euw1/ehrbase/api-admin"}
    # Every name starts with the prefix (teardown and the duplicate search rely on it).
    assert all(v.startswith(("medzen-prod-euw1", "/ecs/medzen-prod-euw1")) for k, v in names.items() if k != "secrets")
    assert names["subnet"].format(tier="public", az="a") == "medzen-prod-euw1-public-a"


def test_global_names_come_from_the_same_rule():
    assert global_names("medzen-prod") == {"dashboard": "medzen-prod-ehrbase", "budget": "medzen-prod-ehrbase-monthly",
                                           "route53_alarm_topic": "medzen-prod-route53-alarms"}


# --- Rules added for the plans ops people got wrong (each refused before any change) -------------------------

def with_region(edit):
    plan = good_plan()
    edit(plan)
    return plan


def set_all(plan, **values):
    for r in plan.values():
        r.update(values)


BAD_PLANS = {
    "same prefix in two regions": (lambda p: p["eu-central-1"].update(ehrbase_name_prefix="medzen-prod-euw1"),
                                   ["ehrbase_name_prefix = 'medzen-prod-euw1'", "is used by eu-west-1, eu-central-1"]),
    "domain with a trailing dot": (lambda p: set_all(p, ehrbase_domain="ehr.medzenhealth.app."), ["ends with a dot"]),
    "domain too long for a certificate": (lambda p: set_all(p, ehrbase_domain="a" * 40 + ".ehr.medzenhealth-clinics.app"),
                                          ["an ACM certificate's domain name may have at most 64"]),
    "zone not a parent of the domain": (lambda p: set_all(p, ehrbase_zone_name="example.org"),
                                        ["ehrbase_zone_name = 'example.org'", "is not a parent of ehrbase_domain"]),
    "public admin range": (lambda p: p["eu-west-1"].update(network_rds_admin_cidrs=["52.94.0.0/24"]),
                           ["network_rds_admin_cidrs[0] (region eu-west-1) = '52.94.0.0/24'", "public address space"]),
    "admin range wider than a /24": (lambda p: p["eu-west-1"].update(network_rds_admin_cidrs=["10.8.0.0/16"]),
                                     ["opens PostgreSQL to 65536 addresses"]),
    "two Africa regions and no secondary": (lambda p: p["eu-central-1"].update(ehrbase_region_role="africa"),
                                            ["exactly one region must be the secondary", "at most one region can serve Africa"]),
    "Fargate CPU AWS rejects": (lambda p: p["eu-west-1"].update(ecs_task_cpu=0), ["ecs_task_cpu/ecs_task_memory", "is not a Fargate size"]),
    "master user name too long": (lambda p: p["eu-west-1"].update(rds_master_username="m" * 64),
                                  ["rds_master_username (region eu-west-1)", "1-63 letters"]),
    # Deliverable 6 of issue 26: AWS or EHRbase would reject these only when a later play reached them.
    "master user name longer than RDS's 16": (lambda p: p["eu-west-1"].update(rds_master_username="ehrbase_master_user"),
                                              ["rds_master_username (region eu-west-1) = 'ehrbase_master_user'",
                                               "RDS allows 1 to 16", "source: RDS API reference, CreateDBInstance"]),
    "image with its tag": (lambda p: p["eu-west-1"].update(ecs_ehrbase_image="ehrbase/ehrbase:2.30.0"),
                           ["ecs_ehrbase_image (region eu-west-1) = 'ehrbase/ehrbase:2.30.0'", "ecs_ehrbase_version"]),
    "authentication switched off": (lambda p: p["eu-west-1"].update(ecs_extra_environment={"SECURITY_AUTHTYPE": "NONE"}),
                                    ["ecs_extra_environment.SECURITY_AUTHTYPE (region eu-west-1) = 'NONE'",
                                     "switches EHRbase's authentication off", "source: EHRbase documentation"]),
    "credential in the environment": (lambda p: p["eu-west-1"].update(ecs_extra_environment={"DB_PASS": "hunter2"}),
                                      ["ecs_extra_environment.DB_PASS (region eu-west-1) = '<not shown>'", "Secrets Manager"]),
    "role variable naming a zone that is not a parent": (lambda p: p["eu-central-1"].update(route53_zone_name="example.org"),
                                                         ["route53_zone_name (region eu-central-1) = 'example.org'",
                                                          "is not a parent of the domain"]),
    "certificate zone not a parent": (lambda p: p["eu-west-1"].update(ecs_certificate_validation_zone="other.app"),
                                      ["ecs_certificate_validation_zone (region eu-west-1) = 'other.app'"]),
    "zero poll interval": (lambda p: p["eu-west-1"].update(ecs_release_poll_delay=0),
                           ["ecs_release_poll_delay (region eu-west-1) = 0", "at least 1"]),
    "zero database poll interval": (lambda p: p["eu-west-1"].update(rds_wait_delay=0), ["rds_wait_delay (region eu-west-1) = 0"]),
    "health check path that needs a login": (
        lambda p: p["eu-west-1"].update(route53_health_check_path="/ehrbase/rest/status"),
        ["route53_health_check_path (region eu-west-1) = '/ehrbase/rest/status'", "needs a login"]),
    "health check interval": (lambda p: p["eu-west-1"].update(route53_health_check_interval=20), ["10 or 30 seconds"]),
    "health check threshold": (lambda p: p["eu-west-1"].update(route53_health_check_failure_threshold=0), ["1-10"]),
    "alarm period": (lambda p: p["eu-west-1"].update(monitoring_period=45), ["monitoring_period (region eu-west-1) = 45",
                                                                             "multiple of 60", "PutMetricAlarm"]),
    "datapoints above the periods": (
        lambda p: p["eu-west-1"].update(monitoring_evaluation_periods=2, monitoring_datapoints_to_alarm=3),
        ["monitoring_datapoints_to_alarm (region eu-west-1) = 3", "1 to EvaluationPeriods (2)"]),
    "alarm window over a day": (lambda p: p["eu-west-1"].update(monitoring_period=3600, monitoring_evaluation_periods=48),
                                ["at most one day"]),
    "e-mail address": (lambda p: p["eu-west-1"].update(monitoring_alarm_emails=["ops at medzen"]),
                       ["monitoring_alarm_emails[0] (region eu-west-1) = 'ops at medzen'", "not an e-mail address"]),
    "budget amount": (lambda p: p["eu-west-1"].update(monitoring_budget_amount=0), ["monitoring_budget_amount", "positive"]),
    "budget notification": (lambda p: p["eu-west-1"].update(monitoring_budget_notifications=[{"type": "ACTUAL", "threshold": 0}]),
                            ["monitoring_budget_notifications[0]"]),
    "reserved tag key": (lambda p: p["eu-west-1"].update(ehrbase_tags={"aws:owner": "ops"}), ["not starting with aws:"]),
    "reserved master user": (lambda p: p["eu-west-1"].update(rds_master_username="rdsadmin"), ["is reserved"]),
    "autoscaling target nobody reaches": (lambda p: p["eu-west-1"].update(ecs_cpu_target=150), ["ecs_cpu_target", "10-90 %"]),
    "Multi-AZ off in prod": (lambda p: p["eu-west-1"].update(rds_multi_az=False),
                             ["rds_multi_az (region eu-west-1) = False", "ehrbase_prod_overrides"]),
    "deletion protection off in prod": (lambda p: p["eu-west-1"].update(rds_deletion_protection=False),
                                        ["rds_deletion_protection", "switches off deletion protection"]),
    "TLS 1.0 policy": (lambda p: p["eu-west-1"].update(ecs_ssl_policy="ELBSecurityPolicy-2016-08"), ["allows TLS older than 1.2"]),
    "prefix ending in a hyphen": (lambda p: p["eu-west-1"].update(ehrbase_name_prefix="medzen-prod-"), ["not ending with a hyphen"]),
    "reserved load balancer prefix": (lambda p: p["eu-west-1"].update(ehrbase_name_prefix="internal-prod-euw1"),
                                      ["reserves for internal load balancer names"]),
    "io1 without IOPS": (lambda p: p["eu-west-1"].update(rds_storage_type="io1"),
                         ["rds_iops (region eu-west-1) = None", "needs provisioned IOPS"]),
    "io1 IOPS above the ratio": (lambda p: p["eu-west-1"].update(rds_storage_type="io1", rds_iops=10000, rds_allocated_storage=100),
                                 ["at most 50 IOPS per GB"]),
    "engine version read as a float": (lambda p: p["eu-west-1"].update(rds_engine_version=16.1),
                                       ["rds_engine_version (region eu-west-1) = 16.1", "YAML read it as a float"]),
    "log retention CloudWatch does not offer": (lambda p: p["eu-west-1"].update(ecs_log_retention_days=45),
                                                ["ecs_log_retention_days (region eu-west-1) = 45"]),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_bad_plan_is_refused_with_variable_value_rule_and_fix(case):
    edit, needles = BAD_PLANS[case]
    one_error(with_region(edit), *needles)


def test_role_variable_rules_let_the_design_values_through():
    plan = with_region(lambda p: p["eu-west-1"].update(
        rds_master_username="ehrbase_master", ecs_ehrbase_image="registry.example:5000/ehrbase/ehrbase",
        ecs_extra_environment={"SECURITY_AUTHTYPE": "OAUTH", "LOGGING_LEVEL_ROOT": "INFO"}, ecs_release_poll_delay=2,
        rds_wait_delay=30, route53_zone_name="medzenhealth.app", ecs_certificate_validation_zone="",
        route53_health_check_path="/ehrbase/management/health", route53_health_check_interval=10,
        route53_health_check_failure_threshold=3, monitoring_period=60, monitoring_evaluation_periods=5,
        monitoring_datapoints_to_alarm=3, monitoring_alarm_emails=["ehrbase-ops@medzen.example"],
        monitoring_budget_amount=1500, monitoring_budget_notifications=[{"type": "FORECASTED", "threshold": 100}],
        ehrbase_tags={"CostCenter": "ehr", "Owner": "ops@medzen"}))
    assert validate_plan(plan) == []


def test_prod_guarantee_may_be_overridden_knowingly_and_other_environments_are_free():
    plan = with_region(lambda p: p["eu-west-1"].update(rds_multi_az=False, ehrbase_prod_overrides=["multi_az"]))
    assert validate_plan(plan) == []
    plan = with_region(lambda p: set_all(p, ehrbase_environment="staging", rds_deletion_protection=False))
    assert validate_plan(plan) == []


def test_good_variants_pass():
    plan = with_region(lambda p: p["eu-west-1"].update(
        rds_storage_type="io1", rds_iops=3000, rds_allocated_storage=100, ecs_ssl_policy="ELBSecurityPolicy-TLS13-1-3-2021-06",
        ecs_log_retention_days=90, network_rds_admin_cidrs=["10.20.0.5/32"], ehrbase_zone_name="medzenhealth.app"))
    assert validate_plan(plan) == []


def test_typos_of_known_variables_are_named_and_others_left_alone():
    from ansible_collections.medzen.ehrbase.plugins.filter.plan import plan_typos

    known = ["network_vpc_cidr", "rds_instance_class", "ehrbase_domain"]
    names = ["network_vpc_cdir", "rds_instance_clas", "ehrbase_domain", "ansible_host", "my_own_thing", "network_foo"]
    assert plan_typos(names, known) == [
        "network_vpc_cdir looks like a typo of network_vpc_cidr (no role reads network_vpc_cdir; it has no effect)",
        "rds_instance_clas looks like a typo of rds_instance_class (no role reads rds_instance_clas; it has no effect)"]


def test_creation_plan_lists_every_resource_of_a_new_region_by_type_and_name():
    from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import creation_plan

    r = region("primary", 0)
    lines = creation_plan("medzen-prod-euw1", r["network_public_subnets"], r["network_private_subnets"],
                          "ehr.medzenhealth.app", "eu-west-1")
    assert "AWS::EC2::VPC medzen-prod-euw1-vpc" in lines
    assert "AWS::EC2::Subnet medzen-prod-euw1-private-b 10.0.12.0/24" in lines
    assert len([l for l in lines if l.startswith("AWS::EC2::NatGateway")]) == 2
    assert len([l for l in lines if l.startswith("AWS::SecretsManager::Secret")]) == 5
    assert "AWS::RDS::DBInstance medzen-prod-euw1-db" in lines and "AWS::ECS::Service medzen-prod-euw1-ehrbase" in lines


def test_the_primary_is_found_in_one_place():
    regions = [{"inventory_hostname": "eu-central-1", "ehrbase_region": "eu-central-1", "ehrbase_region_role": "secondary"},
               {"inventory_hostname": "eu-west-1", "ehrbase_region": "eu-west-1", "ehrbase_region_role": "primary"}]
    assert primary_region(regions) == "eu-west-1"
    assert primary_region(regions[:1]) == "" and primary_region([]) == ""
