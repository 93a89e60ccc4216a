#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_converged_state
short_description: Compare a region with the state its last complete run left (the seal), or seal it
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Reads every resource the collection manages in one region, and the global ones it shares (hosted zone records,
    health checks, us-east-1 alarm and topic, dashboard, budget) - about sixty describe calls, side by side - and
    digests each answer without what AWS changes by itself (status, counters, timestamps, the ECS deployment log, the
    task count autoscaling sets).
  - With O(seal=false) (the default; read-only) it compares those digests and O(inputs_digest) with the region's seal,
    an SSM parameter written after the last complete run. RV(in_sync) is true only when the seal exists, was made
    from the same inputs and every digest is equal; RV(drift) names each resource that differs. RV(base_in_sync) is
    true when the network and database tiers match the seal and O(base_inputs_digest) is the seal's, so a run that
    changes only the app tier (a release) may skip the roles of those tiers.
  - With O(seal=true) it writes the seal (digests, inputs digest and O(outputs)) when it differs from the stored
    one. Check mode reads and says whether it would write.
  - Every region is also checked against what the collection holds exclusively (plugins/module_utils/declared.py -
    the ECS roles' policies, the region key's policy, the secrets' key and resource policies, ECS Exec, scheduled
    actions, the VPC's DNS attributes, filters on the alarm subscriptions). Each difference is a RV(findings) line.
    A region with a finding is never in sync and never sealed. With O(seal=true) the module then fails naming each
    finding and what to do, so a run that could not repair one ends non-zero instead of sealing it.
  - site.yml uses it for its fast no-op path (see docs/fast_path.md). The seal holds digests, ids and names - never
    a secret value.
  - Why a custom module - no upstream module reads a whole deployment's state at once; a per-resource _info task
    costs a Python process each, which is what the fast path saves.
options:
  seal:
    description: Write the seal for the state read now (after a complete, successful run).
    type: bool
    default: false
  outputs:
    description: With O(seal=true), the outputs the roles published (ids and names; no secret) to store with the seal.
    type: dict
    default: {}
  run_id:
    description: With O(seal=true), the id of the run that sealed (shown by the next compare).
    type: str
    default: ''
  parameter:
    description: SSM parameter name of the seal (C(ehrbase_names.converged_seal)).
    type: str
    required: true
  inputs_digest:
    description: Digest of the run's inputs (the C(inputs_digest) filter over the deployment's variables and code).
    type: str
    required: true
  base_inputs_digest:
    description: >-
      Digest of the run's inputs without the app tier's variables (C(ecs_*)); sealed beside O(inputs_digest) and
      compared for RV(base_in_sync). Empty never matches.
    type: str
    default: ''
  names:
    description: The region's resource names (C(ehrbase_names)).
    type: dict
    required: true
  zone_name:
    description: The public hosted zone of the domain.
    type: str
    required: true
  domain:
    description: The service's domain (its certificate's name).
    type: str
    required: true
  db_parameter_group:
    description: The database parameter group name.
    type: str
    required: true
  kms_alias_prefix:
    description: >-
      Start of the alias names (without C(alias/)) of the deployment's keys - the region's own and the backup-copy keys
      other regions keep here.
    type: str
    required: true
  dashboard:
    description: Name of the unified dashboard.
    type: str
    required: true
  dashboard_region:
    description: Region of the dashboard (the primary's).
    type: str
    required: true
  budget:
    description: Name of the monthly budget.
    type: str
    required: true
  route53_alarm_topic:
    description: Name of the us-east-1 topic of the Route53 health-check alarms.
    type: str
    required: true
  backup_copy_region:
    description:
      - The region that receives this region's backup copies (C(ehrbase_backup_partner)); empty for none.
      - The replication is read there; one that is not running is a finding.
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Is eu-west-1 as the last complete run left it
  medzen.ehrbase.ehrbase_converged_state:
    region: eu-west-1
    parameter: medzen-prod-euw1-ehrbase-converged
    inputs_digest: "{{ ehrbase_inputs | medzen.ehrbase.inputs_digest }}"
    names: "{{ ehrbase_names }}"
    zone_name: medzenhealth.app
    domain: ehr.medzenhealth.app
    db_parameter_group: medzen-prod-euw1-pg16
    kms_alias_prefix: medzen-prod-
    dashboard: medzen-prod-ehrbase
    dashboard_region: eu-west-1
    budget: medzen-prod-ehrbase-monthly
    route53_alarm_topic: medzen-prod-route53-alarms
  register: converged
"""

RETURN = r"""
in_sync:
  description: The seal exists, was made from the same inputs, and every resource digest equals the seal's.
  returned: always
  type: bool
base_in_sync:
  description: >-
    The seal exists, its inputs other than the app tier's (C(ecs_*)) are O(base_inputs_digest), and every resource of
    the network and database tiers (VPC, subnets, routes, gateways, security groups; keys, secrets, database and its
    groups) equals the seal's. True whenever RV(in_sync) is.
  returned: always
  type: bool
drift:
  description: What differs from the seal, one line per resource (changed/new/no longer read), or why there is no match.
  returned: always
  type: list
  elements: str
outputs:
  description: The outputs stored with the seal (empty unless RV(in_sync) or RV(base_in_sync)).
  returned: always
  type: dict
sealed_by:
  description: The run id and time of the seal (empty without one).
  returned: always
  type: dict
resources:
  description: How many resources were read and digested.
  returned: always
  type: int
findings:
  description: >-
    Where the region differs from what the collection holds exclusively, one line each with its fix (empty when none).
  returned: always
  type: list
  elements: str
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.converged import (
    ARGUMENT_SPEC,
    SEAL_VERSION,
    base_in_sync,
    drift,
    encode,
    read_seal,
    snapshot,
)
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def compared(seal, inputs_digest, items, findings=()):
    """(in_sync, drift lines) of the state read now against the seal; a finding is never in sync."""
    lines = ["not as declared: %s" % line for line in findings]
    if seal is None:
        return False, lines + ["no seal yet: the region has not finished a complete run with this version of the "
                               "collection"]
    if seal["inputs_digest"] != inputs_digest:
        return False, lines + ["the inputs changed since the seal (inventory, extra variables or the collection's code)"]
    lines += drift(seal["items"], items)
    return not lines, lines


def not_sealed(module, findings):
    """What an operator reads when a region differs from the declaration at the end of a run."""
    if module.check_mode:
        how = ("check mode, nothing was changed: a normal run repairs those whose fix says so, and seals the region "
               "only when none is left")
    else:
        how = "this run did not put them back, so the region was NOT SEALED and the next run takes the normal way"
    return "%s: %d attribute(s) differ from what the collection declares (%s):\n- %s" % (
        module.region, len(findings), how, "\n- ".join(findings))


def ensure_sealed(module, seal, items, tiers):
    """Write the seal for the state read now when it differs from the stored one: (changed, stored seal)."""
    params = module.params
    wanted = {"version": SEAL_VERSION, "inputs_digest": params["inputs_digest"], "items": items, "tiers": tiers,
              "base_inputs_digest": params["base_inputs_digest"], "outputs": params["outputs"]}
    if seal is not None and all(seal.get(k) == v for k, v in wanted.items()):
        return False, seal
    wanted["sealed_by"] = {"run_id": params["run_id"],
                           "at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if not module.check_mode:
        ssm = module.client("ssm", retry_decorator=RETRY)
        # Intelligent-Tiering: standard (free) while the seal fits 4 KB, advanced when a larger deployment needs it.
        ssm.put_parameter(aws_retry=True, Name=params["parameter"], Value=encode(wanted), Type="String", Overwrite=True,
                          Tier="Intelligent-Tiering",
                          Description="medzen.ehrbase converged-state seal (digests, ids, names; no secret)")
    return True, wanted


def main():
    argument_spec = dict(ARGUMENT_SPEC, seal=dict(type="bool", default=False), outputs=dict(type="dict", default={}),
                         run_id=dict(type="str", default=""))
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        seal = read_seal(module, module.params["parameter"])
        # Without a seal (a new region, or one a teardown began on) nothing can match: no need to read the region.
        items, tiers, findings = snapshot(module) if seal is not None or module.params["seal"] else ({}, {}, [])
        in_sync, lines = compared(seal, module.params["inputs_digest"], items, findings)
        base = in_sync or base_in_sync(seal, module.params["base_inputs_digest"], items, tiers)
        changed = False
        if module.params["seal"] and findings:
            module.fail_json(msg=not_sealed(module, findings), findings=findings, in_sync=False, base_in_sync=False,
                             drift=lines, resources=len(items))
        if module.params["seal"]:
            changed, seal = ensure_sealed(module, seal, items, tiers)
            in_sync, base, lines = True, True, []
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the converged state of %s" % module.region)
    module.exit_json(changed=changed, in_sync=in_sync, base_in_sync=base, drift=lines, resources=len(items), findings=findings,
                     outputs=(seal or {}).get("outputs", {}) if base else {},
                     sealed_by=(seal or {}).get("sealed_by", {}))


if __name__ == "__main__":
    main()
