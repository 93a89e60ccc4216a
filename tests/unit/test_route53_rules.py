"""Route53 rules (each with a passing and a failing record set) and the routing evaluator."""

import itertools

import pytest

from ansible_collections.medzen.ehrbase.plugins.module_utils.route53_rules import (
    routing_summary,
    routing_table,
    teardown_records,
    violations,
)

D = "ehr.medzenhealth.app."
ALB = {"eu-west-1": "alb-euw1.eu-west-1.elb.amazonaws.com.", "eu-central-1": "alb-euc1.eu-central-1.elb.amazonaws.com.",
       "af-south-1": "alb-afs1.af-south-1.elb.amazonaws.com."}
CHECKS = {"hc-euw1": "eu-west-1", "hc-euc1": "eu-central-1", "hc-afs1": "af-south-1"}
TARGETS = {v: k for k, v in ALB.items()}


def alias(name, target, **extra):
    rec = {"Name": name, "Type": "A",
           "AliasTarget": {"DNSName": target, "HostedZoneId": "Z", "EvaluateTargetHealth": True}}
    rec.update(extra)
    return rec


def tree():
    """The designed tree (docs/architecture.md): eu./af. failover sets, geolocation on the top name."""
    return [
        alias("eu." + D, ALB["eu-west-1"], SetIdentifier="eu-primary", Failover="PRIMARY", HealthCheckId="hc-euw1"),
        alias("eu." + D, ALB["eu-central-1"], SetIdentifier="eu-secondary", Failover="SECONDARY",
              HealthCheckId="hc-euc1"),
        alias("af." + D, ALB["af-south-1"], SetIdentifier="af-primary", Failover="PRIMARY", HealthCheckId="hc-afs1"),
        alias("af." + D, "eu." + D, SetIdentifier="af-secondary", Failover="SECONDARY"),
        alias(D, "af." + D, SetIdentifier="geo-af", GeoLocation={"ContinentCode": "AF"}),
        alias(D, "eu." + D, SetIdentifier="geo-eu", GeoLocation={"ContinentCode": "EU"}),
        alias(D, "eu." + D, SetIdentifier="geo-default", GeoLocation={"CountryCode": "*"}),
    ]


def check(records):
    return violations(records, health_check_ids=CHECKS, external_targets=ALB.values())


def test_design_tree_is_valid():
    assert check(tree()) == []


def test_one_policy_per_name_and_type():
    bad = tree() + [alias(D, ALB["eu-west-1"], SetIdentifier="x", Failover="PRIMARY", HealthCheckId="hc-euw1")]
    assert any("mixes routing policies failover and geolocation" in p for p in check(bad))


def test_cname_beside_other_types():
    ok = tree() + [{"Name": "www." + D, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": D}]}]
    assert check(ok) == []
    bad = ok + [{"Name": "www." + D, "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"x"'}]}]
    assert any("CNAME beside TXT" in p for p in check(bad))


def test_alias_target_must_exist():
    bad = tree()
    bad[3] = alias("af." + D, "europe." + D, SetIdentifier="af-secondary", Failover="SECONDARY")
    assert any("alias to europe.ehr.medzenhealth.app., which does not exist" in p for p in check(bad))


def test_health_check_must_exist():
    bad = tree()
    bad[0] = dict(bad[0], HealthCheckId="hc-missing")
    assert any("names health check hc-missing, which does not exist" in p for p in check(bad))


def test_non_alias_failover_primary_needs_health_check():
    plain = {"Name": "eu." + D, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "203.0.113.1"}],
             "SetIdentifier": "eu-primary", "Failover": "PRIMARY"}
    bad = [plain] + tree()[1:]
    assert any("failover PRIMARY is not an alias and has no health check" in p for p in check(bad))
    good = [dict(plain, HealthCheckId="hc-euw1")] + tree()[1:]
    assert not any("PRIMARY is not an alias" in p for p in check(good))


def test_geolocation_needs_default():
    bad = [r for r in tree() if r["SetIdentifier"] != "geo-default"]
    assert any("no default (*) record" in p for p in check(bad))


def route(health):
    return dict(routing_table(tree(), health, {v: k for k, v in ALB.items()}, CHECKS, D))


EXPECTED = {
    # (euw1, euc1, afs1) healthy -> Africa, Europe, elsewhere
    (True, True, True): ("af-south-1", "eu-west-1", "eu-west-1"),
    (False, True, True): ("af-south-1", "eu-central-1", "eu-central-1"),
    (True, False, True): ("af-south-1", "eu-west-1", "eu-west-1"),
    (True, True, False): ("eu-west-1", "eu-west-1", "eu-west-1"),
    (False, False, True): ("af-south-1", None, None),
    (False, True, False): ("eu-central-1", "eu-central-1", "eu-central-1"),
    (True, False, False): ("eu-west-1", "eu-west-1", "eu-west-1"),
    (False, False, False): (None, None, None),
}


@pytest.mark.parametrize("state", list(itertools.product((True, False), repeat=3)))
def test_routing_for_every_health_combination(state):
    health = dict(zip(("eu-west-1", "eu-central-1", "af-south-1"), state))
    got = route(health)
    assert (got["Africa"], got["Europe"], got["elsewhere"]) == EXPECTED[state]


def test_summary_line():
    rows = routing_table(tree(), {"eu-west-1": True, "eu-central-1": True, "af-south-1": True},
                         {v: k for k, v in ALB.items()}, CHECKS, D)
    assert routing_summary(rows) == "Africa -> af-south-1, Europe -> eu-west-1, elsewhere -> eu-west-1"


def test_lone_secondary_is_valid_but_two_primaries_are_not():
    lone = [r for r in tree() if r.get("SetIdentifier") != "eu-primary"]
    assert check(lone) == []
    bad = tree() + [alias("eu." + D, ALB["af-south-1"], SetIdentifier="eu-primary-2", Failover="PRIMARY",
                          HealthCheckId="hc-afs1")]
    assert any("at most one PRIMARY" in p for p in check(bad))


def full_zone():
    direct = [alias(r + "." + D, ALB[r]) for r in ALB]
    cname = {"Name": "_abc.eu." + D, "Type": "CNAME", "TTL": 300,
             "ResourceRecords": [{"Value": "_x.acm-validations.aws."}]}
    foreign = [{"Name": "www.medzenhealth.app.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": D}]},
               {"Name": "medzenhealth.app.", "Type": "MX", "TTL": 60, "ResourceRecords": [{"Value": "10 mx"}]}]
    return tree() + direct + [cname] + foreign


def test_teardown_of_one_region_takes_its_direct_name_and_failover_member_only():
    doomed = teardown_records(full_zone(), D, ["af-south-1"], [ALB["af-south-1"]])
    assert [(r["Name"], r.get("SetIdentifier")) for r in doomed] == [("af-south-1." + D, None),
                                                                     ("af." + D, "af-primary")]
    rest = [r for r in full_zone() if r not in doomed]
    assert check(rest) == []
    assert routing_summary(routing_table(rest, {"eu-west-1": True, "eu-central-1": True}, TARGETS, CHECKS, D)) == \
        "Africa -> eu-west-1, Europe -> eu-west-1, elsewhere -> eu-west-1"


def test_teardown_of_everything_takes_the_tree_first_and_never_foreign_records():
    doomed = teardown_records(full_zone(), D, list(ALB), list(ALB.values()), everything=True)
    names = [r["Name"] for r in doomed]
    assert names[:3] == [D] * 3, "the geolocation records (which alias the rest) go first"
    assert names.index("af." + D) < names.index("eu." + D), "af. aliases eu."
    assert "_abc.eu." + D in names
    assert len(doomed) == len(full_zone()) - 2
    assert not any(r["Name"].startswith(("www.", "medzenhealth")) for r in doomed)
