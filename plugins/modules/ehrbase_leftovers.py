#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_leftovers
short_description: Find (and on request remove) duplicates and orphans that interrupted runs left in a region
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Reads one region for objects of this deployment (found by their Name tags and the deployment's tags) that a run
    interrupted at the wrong moment, or a create whose answer was lost and which the SDK then retried, can leave
    behind - a second VPC of the same name, a second route table of the same name, two NAT gateways in one subnet,
    an internet gateway attached to nothing, an Elastic IP of a NAT gateway that exists with another address, a KMS
    key of the deployment without alias that nothing uses, a target group of the deployment no load balancer uses, a
    task definition registered twice.
  - Each finding comes with its evidence (created when, holds what) and whether it holds nothing and may be
    removed. What the next run will use itself (the only detached internet gateway when the VPC has none, an Elastic
    IP tagged for a NAT gateway not created yet, the only key without alias when the alias is missing) is returned
    in RV(adopt), not as a finding.
  - With O(remove=true) it removes only findings that hold nothing - an empty duplicate VPC (with its own default
    security group, main route table and network ACL), a route table with no subnet and no route but the local one,
    a NAT gateway no route table uses, a detached internet gateway, an unassociated Elastic IP, a target group with no
    load balancer, the revision of a task definition registered twice the service does not run (deregistered), a
    key no database, snapshot or secret names (scheduled for deletion after 30 days, cancellable).
    Never a database, a snapshot or a secret. Check mode says what it would remove.
  - With O(access=true) it first reads what preflight checks before any change - the caller identity, whether the
    region is enabled for the account, its available Availability Zones - and returns them in RV(access); in a region
    that is not enabled it stops there (RV(findings) is empty).
  - Why a custom module - the upstream modules each manage one object they are told about; none reads the region
    for what this deployment left twice or half-made, and the repair must use the same rules as the run's check.
    The access reads are those of amazon.aws.aws_caller_info, aws_region_info and aws_az_info, made here in the same
    process - three module runs fewer per region in every run's preflight.
options:
  name_prefix:
    description: The region's resource name prefix (C(ehrbase_name_prefix)); names follow the collection's rule.
    type: str
    required: true
  tags:
    description: Tags every object of the deployment carries (C(ManagedBy), C(Environment)); keys are matched on them.
    type: dict
    default: {}
  kms_alias:
    description: Alias name (without C(alias/)) of the region's key.
    type: str
    required: true
  target_groups:
    description: Target group names this deployment uses; another one with the prefix and no load balancer is left over.
    type: list
    elements: str
    default: []
  remove:
    description: Remove the findings that hold nothing (never a database, snapshot or secret).
    type: bool
    default: false
  access:
    description: Also read the caller identity, whether the region is enabled and its available AZs (RV(access)).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: What interrupted runs left in eu-central-1
  medzen.ehrbase.ehrbase_leftovers:
    region: eu-central-1
    name_prefix: medzen-prod-euc1
    kms_alias: medzen-prod-euc1-ehrbase
    tags: {ManagedBy: ansible/medzen.ehrbase, Environment: prod}
  register: leftovers
"""

RETURN = r"""
findings:
  description: Duplicates and orphans, each with type, id, name, evidence, removable and why.
  returned: always
  type: list
  elements: dict
problems:
  description: One sentence per finding for an operator (what, where, evidence, what to do).
  returned: always
  type: list
  elements: str
adopt:
  description: >-
    What the next run uses instead of creating another - internet_gateway_id (or ''), nat_eips (Elastic IP Name tag ->
    allocation id, unassociated, for NAT gateways not created yet), nat_gateways (Name tag -> NAT gateway id).
  returned: always
  type: dict
removed:
  description: The findings removed (or, in check mode, that would be).
  returned: always
  type: list
  elements: dict
vpc_ids:
  description: The VPCs named as the deployment's (none in a region it was never built in).
  returned: always
  type: list
  elements: str
access:
  description: >-
    account and arn of the caller, region_enabled (the region is listed by ec2:DescribeRegions, i.e. enabled for the
    account), availability_zones (names of the zones in state available).
  returned: when O(access=true)
  type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import kind
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS
from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names

LIVE_NAT = ["pending", "available"]
KEY_PENDING_DAYS = 30
# What a registration sets, not what the task runs: two revisions equal on everything else are the same definition.
REVISION_FIELDS = ("taskDefinitionArn", "revision", "status", "registeredAt", "registeredBy", "deregisteredAt",
                   "requiresAttributes", "compatibilities")


def tag(obj, key="Name"):
    return dict((t["Key"], t["Value"]) for t in obj.get("Tags") or obj.get("TagList") or []).get(key, "")


def when(value):
    return value.isoformat() if hasattr(value, "isoformat") else (value or "unknown")


class Region(object):
    """The region's state as far as the findings need it, read once."""

    def __init__(self, module):
        self.module = module
        self.ec2 = module.client("ec2", retry_decorator=RETRY)
        self.prefix = module.params["name_prefix"]
        self.names = resource_names(self.prefix)

    def ec2_list(self, method, key, **kwargs):
        return getattr(self.ec2, method)(aws_retry=True, **kwargs)[key]

    def read(self):
        self.vpcs = self.ec2_list("describe_vpcs", "Vpcs", Filters=[{"Name": "tag:Name", "Values": [self.names["vpc"]]}])
        ids = [v["VpcId"] for v in self.vpcs]
        in_vpcs = [{"Name": "vpc-id", "Values": ids}]
        # What a VPC holds is read only when there are two to tell apart (the usual run reads one VPC).
        two = len(ids) > 1
        self.subnets = self.ec2_list("describe_subnets", "Subnets", Filters=in_vpcs) if two else []
        self.enis = self.ec2_list("describe_network_interfaces", "NetworkInterfaces", Filters=in_vpcs) if two else []
        self.groups = self.ec2_list("describe_security_groups", "SecurityGroups", Filters=in_vpcs) if two else []
        self.tables = self.ec2_list("describe_route_tables", "RouteTables", Filters=in_vpcs) if ids else []
        self.nats = self.ec2_list("describe_nat_gateways", "NatGateways",
                                  Filter=in_vpcs + [{"Name": "state", "Values": LIVE_NAT}]) if ids else []
        self.igws = self.ec2_list("describe_internet_gateways", "InternetGateways",
                                  Filters=[{"Name": "tag:Name", "Values": [self.names["internet_gateway"]]}])
        self.eips = [a for a in self.ec2_list("describe_addresses", "Addresses",
                                              Filters=[{"Name": "tag-key", "Values": ["Name"]}])
                     if tag(a).startswith(self.names["nat_eip"].split("{az}")[0])]

    def holdings(self, vpc_id):
        """What a VPC holds beyond what AWS creates with every VPC."""
        held = {
            "subnets": count(self.subnets, vpc_id),
            "network interfaces": count(self.enis, vpc_id),
            "NAT gateways": count(self.nats, vpc_id),
            "internet gateways": len([i for i in self.igws if vpc_id in attached_vpcs(i)]),
            "route tables": count([t for t in self.tables if not is_main(t)], vpc_id),
            "security groups": count([g for g in self.groups if g["GroupName"] != "default"], vpc_id),
        }
        return dict((k, v) for k, v in held.items() if v)


def count(objects, vpc_id):
    return len([o for o in objects if o.get("VpcId") == vpc_id])


def attached_vpcs(igw):
    return [a.get("VpcId") for a in igw.get("Attachments", [])]


def is_main(table):
    return any(a.get("Main") for a in table.get("Associations", []))


def holds_text(held):
    return ", ".join("%s: %d" % (k, v) for k, v in sorted(held.items())) or "nothing"


def finding(kind_key, obj_id, name, evidence, removable, why):
    kind(kind_key)  # one of the catalogue's kinds (its twin kinds are what this module looks for)
    return {"type": kind_key, "id": obj_id, "name": name, "evidence": evidence, "removable": removable, "why": why}


def vpc_findings(reg):
    if len(reg.vpcs) < 2:
        return []
    held = dict((v["VpcId"], reg.holdings(v["VpcId"])) for v in reg.vpcs)
    holders = [v for v in sorted(held) if held[v]]
    # Keep the VPC that holds the deployment; if none holds anything, one of the empty ones.
    keep = holders if len(holders) > 1 else (holders or sorted(held)[:1])
    out = []
    for vpc in sorted(held):
        others = "; ".join("%s holds %s" % (k, holds_text(held[k])) for k in keep if k != vpc)
        evidence = "holds %s%s" % (holds_text(held[vpc]), "; " + others if others else "")
        if len(holders) > 1 and held[vpc]:
            out.append(finding("vpc", vpc, reg.names["vpc"], evidence, False, "more than one VPC of this name holds "
                               "resources: which one is the deployment is not guessed"))
        elif vpc not in keep:
            out.append(finding("vpc", vpc, reg.names["vpc"], evidence, True,
                               "a second VPC of the same name (a create retried after its answer was lost)"))
    return out


def route_table_findings(reg):
    out = []
    by_name = {}
    for t in reg.tables:
        if tag(t).startswith(reg.prefix + "-"):
            by_name.setdefault((t["VpcId"], tag(t)), []).append(t)
    for (vpc, name), tables in sorted(by_name.items()):
        if len(tables) < 2:
            continue
        for t in tables:
            routes = [r for r in t.get("Routes", []) if r.get("GatewayId") != "local"]
            assoc = t.get("Associations", [])
            if not routes and not assoc:
                out.append(finding("route_table", t["RouteTableId"], name, "in %s; no subnet, no route but the local "
                                   "one; %d tables have this name" % (vpc, len(tables)), True,
                                   "a second route table of the same name"))
    return out


def nat_findings(reg):
    used = set(r.get("NatGatewayId") for t in reg.tables for r in t.get("Routes", []) if r.get("NatGatewayId"))
    by_subnet = {}
    for nat in reg.nats:
        by_subnet.setdefault(nat["SubnetId"], []).append(nat)
    out = []
    for subnet, nats in sorted(by_subnet.items()):
        if len(nats) < 2:
            continue
        for nat in nats:
            if nat["NatGatewayId"] not in used:
                evidence = "in %s, created %s, no route table uses it; %d NAT gateways in this subnet" % (
                    subnet, when(nat.get("CreateTime")), len(nats))
                out.append(finding("nat_gateway", nat["NatGatewayId"], tag(nat), evidence, True,
                                   "a second NAT gateway in one subnet (each costs money by the hour)"))
    return out


def gateway_findings(reg):
    detached = sorted([i for i in reg.igws if not i.get("Attachments")], key=lambda i: i["InternetGatewayId"])
    attached = [i for i in reg.igws if i.get("Attachments")]
    adopt = detached[0]["InternetGatewayId"] if detached and not attached and len(reg.vpcs) == 1 else ""
    return adopt, [finding("internet_gateway", i["InternetGatewayId"], tag(i), "attached to nothing", True,
                           "an internet gateway created by a run interrupted before it was attached")
                   for i in detached if i["InternetGatewayId"] != adopt]


def eip_findings(reg):
    nat_names = set(tag(n) for n in reg.nats)
    adopt, out = {}, []
    for a in sorted(reg.eips, key=lambda x: x["AllocationId"]):
        name = tag(a)
        if a.get("AssociationId"):
            continue
        nat_name = reg.names["nat_gateway"].format(az=name[len(reg.names["nat_eip"].split("{az}")[0]):])
        if nat_name not in nat_names and name not in adopt:
            adopt[name] = a["AllocationId"]
            continue
        out.append(finding("elastic_ip", a["AllocationId"], name, "%s, associated with nothing" % a.get("PublicIp"),
                           True, "an address allocated for a NAT gateway that got another one (it costs money)"))
    return adopt, out


def our_keys_without_alias(module, kms, aliased):
    """Enabled customer keys of this deployment in this region (not a partner's copy key) that have no alias."""
    want = module.params["tags"]
    found = []
    for key_id in [k["KeyId"] for k in kms.list_keys(aws_retry=True, Limit=1000)["Keys"] if k["KeyId"] not in aliased]:
        meta = kms.describe_key(aws_retry=True, KeyId=key_id)["KeyMetadata"]
        if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") != "Enabled":
            continue
        tags = dict((t["TagKey"], t["TagValue"])
                    for t in kms.list_resource_tags(aws_retry=True, KeyId=key_id).get("Tags", []))
        ours = all(tags.get(k) == v for k, v in want.items())
        if ours and tags.get("Region", module.region) == module.region and not tags.get("CopyOf"):
            found.append(meta)
    return sorted(found, key=lambda m: when(m.get("CreationDate")))


def key_findings(module):
    kms = module.client("kms", retry_decorator=RETRY)
    aliases = kms.list_aliases(aws_retry=True, Limit=100)["Aliases"]
    candidates = our_keys_without_alias(module, kms, set(a.get("TargetKeyId") for a in aliases if a.get("TargetKeyId")))
    if not candidates:
        return []
    used = keys_in_use(module)
    alias_exists = any(a["AliasName"] == "alias/" + module.params["kms_alias"] and a.get("TargetKeyId")
                       for a in aliases)
    # Without the alias, the next run adopts one key (rds role): the one something uses, else the oldest.
    keep = [] if alias_exists else ([m["KeyId"] for m in candidates if m["Arn"] in used or m["KeyId"] in used][:1]
                                    or [candidates[0]["KeyId"]])
    out = []
    for meta in [m for m in candidates if m["KeyId"] not in keep]:
        user = used.get(meta["Arn"], used.get(meta["KeyId"]))
        out.append(finding("kms_key", meta["KeyId"], meta.get("Description", ""), "created %s, no alias, %s" % (
            when(meta.get("CreationDate")), "used by %s" % user if user else "no database, snapshot or secret uses it"),
            not user, "a key of this deployment without alias (a run stopped between CreateKey and CreateAlias)"))
    return out


def keys_in_use(module):
    """Key ARN/id -> what uses it: DB instances, DB snapshots, secrets of the region."""
    rds = module.client("rds", retry_decorator=RETRY)
    sm = module.client("secretsmanager", retry_decorator=RETRY)
    used = {}
    for db in rds.describe_db_instances(aws_retry=True)["DBInstances"]:
        used.setdefault(db.get("KmsKeyId"), "DB instance %s" % db["DBInstanceIdentifier"])
    for snap in rds.describe_db_snapshots(aws_retry=True)["DBSnapshots"]:
        used.setdefault(snap.get("KmsKeyId"), "DB snapshot %s" % snap["DBSnapshotIdentifier"])
    for secret in sm.list_secrets(aws_retry=True, MaxResults=100)["SecretList"]:
        used.setdefault(secret.get("KmsKeyId"), "secret %s" % secret["Name"])
    used.pop(None, None)
    return used


def target_group_findings(module):
    elb = module.client("elbv2", retry_decorator=RETRY)
    prefix = module.params["name_prefix"] + "-"
    out = []
    for tg in elb.describe_target_groups(aws_retry=True)["TargetGroups"]:
        name = tg["TargetGroupName"]
        if name.startswith(prefix) and name not in module.params["target_groups"] and not tg.get("LoadBalancerArns"):
            out.append(finding("target_group", tg["TargetGroupArn"], name, "no load balancer uses it", True,
                               "a target group of this deployment the run does not use"))
    return out


def revision_findings(module):
    """Two newest ACTIVE revisions of the family that are the same definition: RegisterTaskDefinition retried after a
    lost answer (the collection registers only what differs from the newest). The one the service does not run goes."""
    names = resource_names(module.params["name_prefix"])
    ecs = module.client("ecs", retry_decorator=RETRY)
    arns = ecs.list_task_definitions(aws_retry=True, familyPrefix=names["task_family"], status="ACTIVE", sort="DESC",
                                     maxResults=2)["taskDefinitionArns"]
    if len(arns) < 2:
        return []
    defs = [ecs.describe_task_definition(aws_retry=True, taskDefinition=arn)["taskDefinition"] for arn in arns]
    same = [dict((k, v) for k, v in d.items() if k not in REVISION_FIELDS) for d in defs]
    if same[0] != same[1]:
        return []
    try:
        services = ecs.describe_services(aws_retry=True, cluster=names["cluster"],
                                         services=[names["service"]])["services"]
    except is_boto3_error_code("ClusterNotFoundException"):
        services = []
    running = [svc.get("taskDefinition") for svc in services if svc.get("status") == "ACTIVE"]
    spare = arns[0] if arns[0] not in running and arns[1] in running else arns[1]
    return [finding("task_definition", spare, spare.split("/")[-1], "registered %s, the same definition as %s, "
                    "which %s" % (when(defs[arns.index(spare)].get("registeredAt")),
                                  arns[1 - arns.index(spare)].split("/")[-1],
                                  "the service runs" if running else "is newer"),
                    True, "a second registration of one task definition (retried after its answer was lost)")]


def remove(module, reg, item):
    """Remove one finding that holds nothing (the caller checked `removable`)."""
    ec2 = reg.ec2
    kind, obj_id = item["type"], item["id"]
    if kind == "vpc":  # its default security group, main route table and network ACL go with it
        ec2.delete_vpc(aws_retry=True, VpcId=obj_id)
    elif kind == "route_table":
        ec2.delete_route_table(aws_retry=True, RouteTableId=obj_id)
    elif kind == "nat_gateway":
        ec2.delete_nat_gateway(aws_retry=True, NatGatewayId=obj_id)
    elif kind == "internet_gateway":
        ec2.delete_internet_gateway(aws_retry=True, InternetGatewayId=obj_id)
    elif kind == "elastic_ip":
        ec2.release_address(aws_retry=True, AllocationId=obj_id)
    elif kind == "kms_key":
        module.client("kms", retry_decorator=RETRY).schedule_key_deletion(
            aws_retry=True, KeyId=obj_id, PendingWindowInDays=KEY_PENDING_DAYS)
    elif kind == "task_definition":  # deregistered = INACTIVE, still readable (a revision is never deleted)
        module.client("ecs", retry_decorator=RETRY).deregister_task_definition(aws_retry=True, taskDefinition=obj_id)
    elif kind == "target_group":
        module.client("elbv2", retry_decorator=RETRY).delete_target_group(aws_retry=True, TargetGroupArn=obj_id)


def sentence(region, item):
    action = ("holds nothing: `ansible-playbook playbooks/repair.yml -e repair_confirm=yes` removes it"
              if item["removable"] else "not removed automatically - decide by hand, then re-run")
    what = item["type"].replace("_", " ")
    return "%s %s %s (%s) in %s: %s; %s." % (
        what, item["id"], item["name"] or "-", item["evidence"], region, item["why"], action)


def read_access(module):
    """What the credentials may do in the region: who they are, whether the region is enabled, its available AZs."""
    identity = module.client("sts", retry_decorator=RETRY).get_caller_identity(aws_retry=True)
    ec2 = module.client("ec2", retry_decorator=RETRY)
    regions = ec2.describe_regions(aws_retry=True, Filters=[{"Name": "region-name", "Values": [module.region]}])["Regions"]
    zones = ec2.describe_availability_zones(aws_retry=True, Filters=[{"Name": "state", "Values": ["available"]}]) if regions else {}
    return {"account": identity["Account"], "arn": identity["Arn"], "region_enabled": bool(regions),
            "availability_zones": [z["ZoneName"] for z in zones.get("AvailabilityZones", [])]}


def ensure_scanned(module):
    """(changed, state) - the findings, and their removal when asked."""
    access = read_access(module) if module.params["access"] else None
    if access is not None and not access["region_enabled"]:
        return False, {"findings": [], "problems": [], "adopt": {}, "removed": [], "vpc_ids": [], "access": access}
    reg = Region(module)
    reg.read()
    igw_adopt, igw_out = gateway_findings(reg)
    eip_adopt, eip_out = eip_findings(reg)
    findings = (vpc_findings(reg) + route_table_findings(reg) + nat_findings(reg) + igw_out + eip_out
                + key_findings(module) + target_group_findings(module) + revision_findings(module))
    removed = []
    if module.params["remove"]:
        for item in [f for f in findings if f["removable"]]:
            if not module.check_mode:
                remove(module, reg, item)
            removed.append(item)
    state = {
        "findings": findings,
        "problems": [sentence(module.region, f) for f in findings],
        "adopt": {"internet_gateway_id": igw_adopt, "nat_eips": eip_adopt,
                  "nat_gateways": dict((tag(n), n["NatGatewayId"]) for n in reg.nats if tag(n))},
        "removed": removed,
        "vpc_ids": [v["VpcId"] for v in reg.vpcs],
    }
    if access is not None:
        state["access"] = access
    return bool(removed), state


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name_prefix=dict(type="str", required=True),
            tags=dict(type="dict", default={}),
            kms_alias=dict(type="str", required=True, no_log=False),
            target_groups=dict(type="list", elements="str", default=[]),
            remove=dict(type="bool", default=False),
            access=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    try:
        changed, state = ensure_scanned(module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read what interrupted runs left in %s" % module.region)
    module.exit_json(changed=changed, **state)


if __name__ == "__main__":
    main()
