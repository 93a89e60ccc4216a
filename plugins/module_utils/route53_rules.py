# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Route53 rules the local emulator does not enforce, and a routing evaluator.

Records use the Route53 API shape (ListResourceRecordSets): Name, Type, SetIdentifier, Failover,
GeoLocation, AliasTarget {DNSName, EvaluateTargetHealth}, HealthCheckId, ResourceRecords.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CONTINENTS = (("AF", "Africa"), ("EU", "Europe"), ("*", "elsewhere"))


def fqdn(name):
    return str(name).lower().rstrip(".") + "."


def policy_of(record):
    if record.get("Failover"):
        return "failover"
    if record.get("GeoLocation"):
        return "geolocation"
    for key, policy in (("Weight", "weighted"), ("Region", "latency"), ("MultiValueAnswer", "multivalue"),
                        ("CidrRoutingConfig", "cidr"), ("GeoProximityLocation", "geoproximity")):
        if key in record:
            return policy
    return "simple"


def _set_problems(name, rtype, recs):
    """Rules for one name and type: one routing policy, and what that policy needs."""
    policies = sorted({policy_of(r) for r in recs})
    if len(policies) > 1:
        return ["%s %s mixes routing policies %s: Route53 requires one policy per name and type. "
                "Fix: put the second policy on its own name and alias to it (e.g. eu.<name> for the "
                "failover pair, geolocation on <name>)." % (name, rtype, " and ".join(policies))]
    if policies == ["simple"] and len(recs) > 1:
        return ["%s %s has %d simple records; only one is allowed." % (name, rtype, len(recs))]
    if policies == ["failover"]:
        roles = sorted(r["Failover"] for r in recs)
        # A lone SECONDARY is valid (it is what remains after one region is torn down).
        if roles not in (["PRIMARY", "SECONDARY"], ["PRIMARY"], ["SECONDARY"]):
            return ["%s %s failover set has %s; it needs at most one PRIMARY and at most one "
                    "SECONDARY." % (name, rtype, roles)]
    if policies == ["geolocation"]:
        if not any((r.get("GeoLocation") or {}).get("CountryCode") == "*" for r in recs):
            return ["%s %s geolocation set has no default (*) record: clients outside the listed "
                    "locations would get no answer. Fix: add CountryCode '*'." % (name, rtype)]
    return []


def _record_problems(rec, known_targets, known_checks):
    """Rules for one record: its alias target and health check exist, a PRIMARY can fail over."""
    problems = []
    name = fqdn(rec["Name"])
    alias = rec.get("AliasTarget")
    if alias and fqdn(alias["DNSName"]) not in known_targets:
        problems.append("%s %s (%s) is an alias to %s, which does not exist (not a record in the zone nor a "
                        "known load balancer)." % (name, rec["Type"], rec.get("SetIdentifier", "simple"),
                                                   alias["DNSName"]))
    check = rec.get("HealthCheckId")
    if check and check not in known_checks:
        problems.append("%s %s (%s) names health check %s, which does not exist."
                        % (name, rec["Type"], rec.get("SetIdentifier", "simple"), check))
    if rec.get("Failover") == "PRIMARY" and not alias and not check:
        problems.append("%s %s failover PRIMARY is not an alias and has no health check: Route53 could never "
                        "fail over. Fix: attach the region's health check." % (name, rec["Type"]))
    return problems


def violations(records, health_check_ids=(), external_targets=()):
    """Every rule a record set breaks, as operator-facing messages (empty list = valid)."""
    problems = []
    by_key = {}
    names = {}
    for rec in records:
        by_key.setdefault((fqdn(rec["Name"]), rec["Type"]), []).append(rec)
        names.setdefault(fqdn(rec["Name"]), set()).add(rec["Type"])
    for (name, rtype), recs in sorted(by_key.items()):
        problems.extend(_set_problems(name, rtype, recs))
    for name, types in sorted(names.items()):
        if "CNAME" in types and len(types) > 1:
            problems.append("%s has a CNAME beside %s records: a CNAME must be the only record of its name."
                            % (name, ", ".join(sorted(types - {"CNAME"}))))
    known_targets = set(names) | {fqdn(t) for t in external_targets}
    for rec in records:
        problems.extend(_record_problems(rec, known_targets, set(health_check_ids)))
    return problems


class Router:
    """Answers which region serves a client, given records and region health."""

    def __init__(self, records, health, targets, checks):
        """health: region -> bool; targets: ALB DNS name -> region; checks: health check id -> region."""
        self.records = {}
        for rec in records:
            if rec["Type"] in ("A", "AAAA"):
                self.records.setdefault(fqdn(rec["Name"]), []).append(rec)
        self.health = health
        self.targets = {fqdn(k): v for k, v in targets.items()}
        self.checks = checks

    def _healthy(self, rec, continent, depth):
        """(healthy, region) of one record."""
        check = rec.get("HealthCheckId")
        if check and not self.health.get(self.checks.get(check), False):
            return False, None
        alias = rec.get("AliasTarget")
        if not alias:
            return True, None
        region = self.resolve(alias["DNSName"], continent, depth + 1)
        if alias.get("EvaluateTargetHealth") and region is None:
            return False, None
        return True, region

    def resolve(self, name, continent, depth=0):
        """Region answering `name` for a client on `continent` (AF, EU or * for elsewhere); None if none healthy."""
        name = fqdn(name)
        if depth > 8:
            return None
        if name in self.targets:
            region = self.targets[name]
            return region if self.health.get(region, False) else None
        recs = self.records.get(name, [])
        if not recs:
            return None
        policy = policy_of(recs[0])
        if policy == "failover":
            ordered = sorted(recs, key=lambda r: r["Failover"] != "PRIMARY")
        elif policy == "geolocation":
            def rank(rec):
                geo = rec.get("GeoLocation") or {}
                if geo.get("ContinentCode") == continent or geo.get("CountryCode") == continent:
                    return 0
                return 1 if geo.get("CountryCode") == "*" else 2
            # Route53 answers the most specific healthy location, then the default.
            ordered = [r for r in sorted(recs, key=rank) if rank(r) < 2]
        else:
            ordered = recs[:1]
        for rec in ordered:
            healthy, region = self._healthy(rec, continent, depth)
            if healthy:
                return region
        return None

    def table(self, name):
        return [(label, self.resolve(name, code)) for code, label in CONTINENTS]


def routing_table(records, health, targets, checks, name):
    """[(continent label, region or None)] for `name`."""
    return Router(records, health, targets, checks).table(name)


def routing_summary(rows):
    return ", ".join("%s -> %s" % (label, region or "NO HEALTHY REGION") for label, region in rows)


def design_tree(domain, regions):
    """The records of docs/architecture.md for `regions` ([{region, role, alb_dns, alb_zone_id, health_check_id}]).

    <region>.<domain>  simple alias to each ALB (operators' direct names)
    eu.<domain>        failover PRIMARY primary ALB / SECONDARY secondary ALB
    af.<domain>        failover PRIMARY africa ALB / SECONDARY eu.<domain>
    <domain>           geolocation AF -> af., EU -> eu., default * -> eu.
    """
    domain = fqdn(domain)
    by_role = {r["role"]: r for r in regions}
    records = []

    def alias(name, target, zone_id, **extra):
        rec = {"Name": name, "Type": "A",
               "AliasTarget": {"DNSName": fqdn(target), "HostedZoneId": zone_id, "EvaluateTargetHealth": True}}
        rec.update(extra)
        return rec

    for r in regions:
        records.append(alias(r["region"] + "." + domain, r["alb_dns"], r["alb_zone_id"]))
    eu = "eu." + domain
    if "primary" in by_role:
        p = by_role["primary"]
        records.append(alias(eu, p["alb_dns"], p["alb_zone_id"], SetIdentifier="eu-primary-" + p["region"],
                             Failover="PRIMARY", HealthCheckId=p["health_check_id"]))
    if "secondary" in by_role:
        s = by_role["secondary"]
        records.append(alias(eu, s["alb_dns"], s["alb_zone_id"], SetIdentifier="eu-secondary-" + s["region"],
                             Failover="SECONDARY", HealthCheckId=s["health_check_id"]))
    zone_marker = "SAME_ZONE"  # replaced by the hosted zone id when records are written
    if "africa" in by_role:
        a = by_role["africa"]
        af = "af." + domain
        records.append(alias(af, a["alb_dns"], a["alb_zone_id"], SetIdentifier="af-primary-" + a["region"],
                             Failover="PRIMARY", HealthCheckId=a["health_check_id"]))
        records.append(alias(af, eu, zone_marker, SetIdentifier="af-secondary-eu", Failover="SECONDARY"))
        records.append(alias(domain, af, zone_marker, SetIdentifier="geo-africa",
                             GeoLocation={"ContinentCode": "AF"}))
    records.append(alias(domain, eu, zone_marker, SetIdentifier="geo-europe", GeoLocation={"ContinentCode": "EU"}))
    records.append(alias(domain, eu, zone_marker, SetIdentifier="geo-default", GeoLocation={"CountryCode": "*"}))
    return records


def teardown_records(records, domain, regions, albs, everything=False):
    """The records a teardown removes, in a safe deletion order (aliases before what they point at).

    regions: the regions being removed (their direct names go); albs: those regions' ALB DNS names
    (every record aliasing one goes, e.g. a failover member). everything: also the global tree
    (<domain>, af., eu.) and the ACM validation CNAMEs under the domain. Other records stay.
    """
    domain = fqdn(domain)
    albs = {fqdn(a) for a in albs if a}
    direct = {fqdn("%s.%s" % (r, domain)) for r in regions}
    tree = [domain, fqdn("af." + domain), fqdn("eu." + domain)] if everything else []

    def order(rec):
        name = fqdn(rec["Name"])
        return (tree.index(name) if name in tree else len(tree), name, rec.get("SetIdentifier") or "")

    def ours(rec):
        name = fqdn(rec["Name"])
        alias = fqdn(rec["AliasTarget"]["DNSName"]) if rec.get("AliasTarget") else None
        if name in direct or name in tree or alias in albs:
            return True
        values = [v.get("Value", "") for v in rec.get("ResourceRecords") or []]
        return (everything and rec["Type"] == "CNAME" and name.startswith("_") and name.endswith("." + domain)
                and any("acm-validations.aws" in v for v in values))

    return sorted((r for r in records if ours(r)), key=order)
