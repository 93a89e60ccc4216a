# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Filters for the Route53 tree: build it, check it, and say who is served by which region."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.medzen.ehrbase.plugins.module_utils.route53_rules import (
    Router,
    design_tree,
    routing_summary,
    routing_table,
    teardown_records,
    violations,
)


def route53_tree(regions, domain, zone_id):
    records = design_tree(domain, regions)
    for rec in records:
        if rec["AliasTarget"]["HostedZoneId"] == "SAME_ZONE":
            rec["AliasTarget"]["HostedZoneId"] = zone_id
    return records


def route53_violations(records, health_check_ids, external_targets):
    return violations(records, health_check_ids, external_targets)


def route53_routing(records, regions, health, domain):
    """One line per continent for `domain`, given {region: healthy}."""
    targets = {r["alb_dns"]: r["region"] for r in regions}
    checks = {r["health_check_id"]: r["region"] for r in regions}
    return routing_summary(routing_table(records, health, targets, checks, domain))


def record_key(record):
    """A record's identity in a zone: name (lower case), type, set identifier."""
    return "%s %s %s" % (str(record["Name"]).lower(), record["Type"], record.get("SetIdentifier", ""))


def route53_missing(tree, record_sets):
    """Records of `tree` (API shape) that the zone's `record_sets` (route53_info's answer) do not hold, by key."""
    have = set(record_key(r) for r in route53_from_info(record_sets))
    return [record_key(r) for r in tree if record_key(r) not in have]


def route53_from_info(record_sets):
    """amazon.aws.route53_info resource_record_sets (snake_case) -> API shape for the checker."""
    out = []
    for r in record_sets:
        if "Name" in r:  # already in API shape
            out.append(r)
            continue
        rec = {"Name": r.get("name"), "Type": r.get("type")}
        for src, dst in (("set_identifier", "SetIdentifier"), ("failover", "Failover"),
                         ("health_check_id", "HealthCheckId")):
            if r.get(src):
                rec[dst] = r[src]
        if r.get("geo_location"):
            geo = r["geo_location"]
            keys = (("continent_code", "ContinentCode"), ("country_code", "CountryCode"),
                    ("subdivision_code", "SubdivisionCode"))
            rec["GeoLocation"] = {k2: geo[k1] for k1, k2 in keys if geo.get(k1)}
        if r.get("alias_target"):
            a = r["alias_target"]
            rec["AliasTarget"] = {"DNSName": a.get("dns_name"), "HostedZoneId": a.get("hosted_zone_id"),
                                  "EvaluateTargetHealth": a.get("evaluate_target_health")}
        if r.get("resource_records"):
            rec["ResourceRecords"] = [{"Value": v.get("value")} for v in r["resource_records"]]
        out.append(rec)
    return out


def route53_routing_without(record_sets, domain, regions, down):
    """Routing line when the regions in `down` are out, from the zone's records alone.

    The direct names (<region>.<domain>) give each region's ALB, the failover records'
    identifiers (...-<region>) give each region's health check.
    """
    records, targets, health = _zone_regions(record_sets, domain, regions, down)
    return route53_routing(records, targets, health, domain)


def route53_region_for(record_sets, domain, regions, down, continent):
    """The region the global name answers for a client on `continent` (AF, EU, * elsewhere) when `down` are out;
    None when no region would answer. Read from the zone's records alone, like route53_routing_without."""
    records, targets, health = _zone_regions(record_sets, domain, regions, down)
    return Router(records, health, {r["alb_dns"]: r["region"] for r in targets},
                  {r["health_check_id"]: r["region"] for r in targets}).resolve(domain, continent)


def _zone_regions(record_sets, domain, regions, down):
    records = route53_from_info(record_sets)
    down = [down] if isinstance(down, str) else list(down or [])
    targets = []
    for region in regions:
        direct = [r for r in records if r["Name"].rstrip(".").lower() == "%s.%s" % (region, domain.rstrip(".").lower())
                  and r.get("AliasTarget")]
        checks = [r.get("HealthCheckId") for r in records
                  if (r.get("SetIdentifier") or "").endswith("-" + region) and r.get("HealthCheckId")]
        if direct:
            targets.append({"region": region, "alb_dns": direct[0]["AliasTarget"]["DNSName"],
                            "health_check_id": checks[0] if checks else None})
    health = {r: r not in down for r in regions}
    return records, targets, health


def route53_teardown_records(record_sets, domain, regions, albs, everything=False):
    """route53_info record sets -> the records (API shape) a teardown of `regions` deletes, in order."""
    regions = [regions] if isinstance(regions, str) else list(regions or [])
    return teardown_records(route53_from_info(record_sets), domain, regions, albs or [], everything)


class FilterModule(object):
    def filters(self):
        return {
            "route53_tree": route53_tree,
            "route53_violations": route53_violations,
            "route53_routing": route53_routing,
            "route53_from_info": route53_from_info,
            "route53_missing": route53_missing,
            "route53_routing_without": route53_routing_without,
            "route53_region_for": route53_region_for,
            "route53_teardown_records": route53_teardown_records,
        }
