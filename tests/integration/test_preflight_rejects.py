"""Invalid plans fail in preflight, with their own message, before any AWS change."""

import os
import shutil
import sys

import pytest
import yaml

from helpers import ENDPOINT, REGIONS, ROOT, aws, run_playbook, unfolded

sys.path.insert(0, os.path.join(ROOT, "local"))
from faultproxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position

CASES = {
    # name: (edit(inventory_dir), expected message fragment)
    "overlapping_vpcs_across_regions": (
        lambda inv: edit(inv, "eu-central-1", network_vpc_cidr="10.0.0.0/16",
                         network_public_subnets=[{"cidr": "10.0.1.0/24", "az": "eu-central-1a"},
                                                 {"cidr": "10.0.2.0/24", "az": "eu-central-1b"}],
                         network_private_subnets=[{"cidr": "10.0.11.0/24", "az": "eu-central-1a"},
                                                  {"cidr": "10.0.12.0/24", "az": "eu-central-1b"}]),
        "overlaps the VPC of eu-west-1",
    ),
    "subnet_outside_vpc": (
        lambda inv: edit(inv, "af-south-1", network_private_subnets=[{"cidr": "10.2.11.0/24", "az": "af-south-1a"},
                                                                     {"cidr": "10.7.12.0/24", "az": "af-south-1b"}]),
        "network_private_subnets[1].cidr (region af-south-1) = '10.7.12.0/24': lies outside the VPC",
    ),
    "one_az": (
        lambda inv: edit(inv, "eu-west-1", network_public_subnets=[{"cidr": "10.0.1.0/24", "az": "eu-west-1a"},
                                                                   {"cidr": "10.0.2.0/24", "az": "eu-west-1a"}]),
        "Multi-AZ needs 2 distinct AZs",
    ),
    "unknown_region": (lambda inv: rename_host(inv, "af-south-1", "af-middle-7"), "ehrbase_region = 'af-middle-7'"),
    "name_too_long": (
        lambda inv: edit_all(inv, ehrbase_environment="productionx", ehrbase_project="medzenhealthx"),
        "ehrbase_project = 'medzenhealthx'",
    ),
    "alb_name_too_long": (
        lambda inv: edit(inv, "eu-west-1", ehrbase_name_prefix="medzen-production-ireland-euw1"),
        "AWS allows 32",
    ),
    "missing_domain": (lambda inv: edit_all(inv, ehrbase_domain=""), "ehrbase_domain = ''"),
    "wrong_type_subnets": (
        lambda inv: edit(inv, "eu-west-1", network_public_subnets="10.0.1.0/24,10.0.2.0/24"),
        "network_public_subnets (region eu-west-1) = '10.0.1.0/24,10.0.2.0/24': must be a list",
    ),
    "invalid_cidr": (lambda inv: edit(inv, "eu-west-1", network_vpc_cidr="10.0.0.300/16"), "not a valid IPv4 network"),
    "two_primaries": (lambda inv: edit(inv, "eu-central-1", ehrbase_region_role="primary"),
                      "exactly one region must be the primary"),
    "az_of_other_region": (
        lambda inv: edit(inv, "eu-central-1",
                         network_private_subnets=[{"cidr": "10.1.11.0/24", "az": "eu-west-1a"},
                                                  {"cidr": "10.1.12.0/24", "az": "eu-central-1b"}]),
        "is not an Availability Zone of eu-central-1",
    ),
    "bogus_db_class": (lambda inv: edit(inv, "eu-central-1", rds_instance_class="db.bogus"),
                       "rds_instance_class (region eu-central-1) = 'db.bogus'"),
    "world_open_admin_cidr": (lambda inv: edit(inv, "eu-west-1", network_rds_admin_cidrs=["0.0.0.0/0"]),
                              "the admin path must be narrow"),
}


@pytest.fixture(scope="module")
def counter():
    """Every AWS call of the run passes a (fault-free) proxy that counts reads and mutating calls."""
    proxy = FaultProxy(ENDPOINT).start()
    yield proxy
    proxy.stop()


def refused(inventory, counter):
    """site.yml through the counting proxy; the refusal must come with zero mutating calls."""
    counter.faults.reset()
    rc, out = run_playbook("site.yml", inventory=inventory, env={"AWS_ENDPOINT_URL": counter.url})
    stats = counter.faults.stats()
    assert stats["mutating"] == 0, stats["mutating_calls"]
    return rc, out


def edit(inv, host, **values):
    # Written over the region's plan (00_plan.yml) in the inventory's own file, which Ansible reads after it.
    path = os.path.join(inv, "host_vars", host, "main.yml")
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    data.update(values)
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)


def edit_all(inv, **values):
    path = os.path.join(inv, "group_vars", "all", "main.yml")
    with open(path) as fh:
        data = yaml.safe_load(fh)
    data.update(values)
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)


def rename_host(inv, old, new):
    hosts = os.path.join(inv, "hosts.yml")
    with open(hosts) as fh:
        text = fh.read()
    with open(hosts, "w") as fh:
        fh.write(text.replace(old + ":", new + ":"))
    os.rename(os.path.join(inv, "host_vars", old), os.path.join(inv, "host_vars", new))


def our_resources():
    """Everything tagged by this collection, in every region of the plan."""
    found = []
    for region in REGIONS:
        ec2 = aws("ec2", region)
        flt = [{"Name": "tag:ManagedBy", "Values": ["ansible/medzen.ehrbase"]}]
        found += [v["VpcId"] for v in ec2.describe_vpcs(Filters=flt)["Vpcs"]]
        found += [s["GroupId"] for s in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]]
        found += [s["Name"] for s in aws("secretsmanager", region).list_secrets()["SecretList"]]
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_plan_is_refused_before_any_change(case, tmp_path, emulator, counter):
    inv = str(tmp_path / "inv")
    shutil.copytree(os.path.join(ROOT, "inventories", "local"), inv)  # symlinks resolved into copies
    edit_fn, expected = CASES[case]
    edit_fn(inv)
    rc, out = refused(inv, counter)
    assert rc != 0, out
    assert expected in out, out
    assert "no AWS resource was touched" in out or "Nothing was changed" in out, out
    assert "PLAY [Region" not in out, "a region play started despite the invalid plan"
    assert our_resources() == []


def test_wrong_type_caught_by_role_argument_spec(tmp_path, emulator, counter):
    """Types the plan validator does not read are caught by the roles' argument specs."""
    inv = str(tmp_path / "inv")
    shutil.copytree(os.path.join(ROOT, "inventories", "local"), inv)
    edit(inv, "eu-west-1", network_tags=["Project", "medzen"])
    rc, out = refused(inv, counter)
    assert rc != 0
    assert "role network rejects its variables" in out, out
    assert "network_tags" in out and "Nothing was changed" in out, out
    assert our_resources() == []


def test_mistaken_plans_ops_people_make_are_refused_in_one_run(tmp_path, emulator, counter):
    """The rules added for plans AWS accepted or rejected only half-way (tests/unit/test_plan.py has one case per
    rule): one run with several mistakes names every one of them, and nothing is created."""
    inv = str(tmp_path / "inv")
    shutil.copytree(os.path.join(ROOT, "inventories", "local"), inv)
    edit_all(inv, ehrbase_environment="prod")
    edit(inv, "eu-west-1", network_rds_admin_cidrs=["52.94.0.0/24"], rds_multi_az=False, rds_engine_version=16.8,
         ecs_ssl_policy="ELBSecurityPolicy-2016-08", ecs_log_retention_days=45)
    edit(inv, "eu-central-1", ehrbase_region_role="africa", rds_storage_type="io1", ecs_cpu_target=150)
    edit(inv, "af-south-1", ehrbase_name_prefix="medzen-prod-", rds_master_username="rdsadmin",
         rds_backup_copy_region="af-south-1")
    rc, out = refused(inv, counter)
    text = unfolded(out)
    assert rc != 0
    for needle in ("public address space", "switches off a standby in a second AZ", "YAML read it as a float",
                   "allows TLS older than 1.2", "ecs_log_retention_days (region eu-west-1) = 45",
                   "exactly one region must be the secondary", "needs provisioned IOPS", "ecs_cpu_target (region eu-central-1)",
                   "not ending with a hyphen", "rds_master_username (region af-south-1) = 'rdsadmin'",
                   "rds_backup_copy_region (region af-south-1) = 'af-south-1': copies in the region they protect"):
        assert needle in text, needle + "\n" + out[-5000:]
    assert "PLAY [Region" not in out and our_resources() == []


def test_the_other_mistaken_plans_are_refused_in_one_run_too(tmp_path, emulator, counter):
    """The rules the run above does not exercise (each also has its own unit test): one more run, every mistake
    named, zero mutating calls."""
    inv = str(tmp_path / "inv")
    shutil.copytree(os.path.join(ROOT, "inventories", "local"), inv)
    edit_all(inv, ehrbase_environment="prod", ehrbase_domain="ehr.medzenhealth.app.")
    edit(inv, "eu-west-1", network_rds_admin_cidrs=["10.8.0.0/16"], ecs_task_cpu=0, rds_deletion_protection=False,
         ecs_extra_environment={"SECURITY_AUTHTYPE": "NONE"}, ecs_ehrbase_image="ehrbase/ehrbase:2.30.0")
    # eu-west-1's prefix in prod; values the DNS and monitoring plays would meet only after every region was built
    edit(inv, "eu-central-1", ehrbase_name_prefix="medzen-prod-euw1", monitoring_period=45,
         route53_health_check_path="/ehrbase/rest/status", route53_zone_name="example.org", ecs_release_poll_delay=0)
    edit(inv, "af-south-1", ehrbase_name_prefix="internal-prod-afs1", rds_master_username="m" * 64,
         rds_storage_type="io1", rds_iops=10000, rds_allocated_storage=100)
    rc, out = refused(inv, counter)
    text = unfolded(out)
    assert rc != 0
    for needle in ("ends with a dot", "opens PostgreSQL to 65536 addresses", "is not a Fargate size",
                   "switches off deletion protection", "is used by eu-west-1, eu-central-1",
                   "reserves for internal load balancer names", "rds_master_username (region af-south-1)",
                   "at most 50 IOPS per GB", "switches EHRbase's authentication off", "ecs_ehrbase_image (region eu-west-1)",
                   "monitoring_period (region eu-central-1) = 45", "route53_health_check_path (region eu-central-1)",
                   "route53_zone_name (region eu-central-1) = 'example.org'", "ecs_release_poll_delay (region eu-central-1) = 0",
                   "RDS allows 1 to 16"):
        assert needle in text, needle + "\n" + out[-5000:]
    assert "PLAY [Region" not in out and our_resources() == []
