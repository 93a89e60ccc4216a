#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_parameters
short_description: The declared parameters of an existing RDS DB parameter group, honest in check mode
version_added: "0.2.0"
author: MedZen Health platform team (@medzen)
description:
  - Brings the named parameters of an existing DB parameter group to the declared values (say C(rds.force_ssl=1),
    which makes the server refuse unencrypted connections), and says which ones it changes.
  - Why a custom module - M(amazon.aws.rds_instance_param_group) computes the parameters to change and then, in check
    mode, reports C(changed=false) (it returns "changed" only after it has called ModifyDBParameterGroup), so a
    C(rds.force_ssl) set to 0 by hand is C(ok) in C(--check) and C(changed) in the normal run. The group itself
    (create, description, tags) stays with the upstream module; this module only compares and sets the values, and
    returns a diff.
  - A group that does not exist yet (check mode on a new region) is reported as a change of every declared parameter.
  - Only the declared parameters are compared; the others keep their (engine default) values.
options:
  name:
    description: Name of the DB parameter group.
    type: str
    required: true
  params:
    description: Parameter name to value (numbers and booleans are sent as AWS's strings).
    type: dict
    required: true
  apply_method:
    description: When RDS applies a change (a dynamic parameter such as C(rds.force_ssl) takes C(immediate)).
    type: str
    choices: [immediate, pending-reboot]
    default: immediate
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: SSL forced on the database's parameter group
  medzen.ehrbase.rds_parameters:
    name: medzen-prod-euw1-pg16
    params:
      rds.force_ssl: 1
"""

RETURN = r"""
parameters:
  description: The declared parameters as they are after the run (as they would be, in check mode).
  returned: always
  type: dict
  sample: {"rds.force_ssl": "1"}
changed_parameters:
  description: The names of the declared parameters whose value differed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.aws_retry import RETRY
from ansible_collections.medzen.ehrbase.plugins.module_utils.errors import AWS_ERRORS


def as_aws(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def current(client, name, wanted):
    """{parameter: value or None} for the declared parameters; None when the group does not exist."""
    found, kwargs = {}, {}
    try:
        while True:
            answer = client.describe_db_parameters(aws_retry=True, DBParameterGroupName=name, **kwargs)
            for param in answer.get("Parameters", []):
                if param["ParameterName"] in wanted:
                    found[param["ParameterName"]] = param.get("ParameterValue")
            if not answer.get("Marker"):
                return found
            kwargs = {"Marker": answer["Marker"]}
    except client.exceptions.DBParameterGroupNotFoundFault:
        return None


def ensure_present(client, module):
    p = module.params
    wanted = dict((k, as_aws(v)) for k, v in p["params"].items())
    before = current(client, p["name"], wanted)
    if before is None and not module.check_mode:
        module.fail_json(msg="DB parameter group %s does not exist: create it first (amazon.aws.rds_instance_param_group);"
                         " nothing was changed." % p["name"])
    before = before or {}
    differ = sorted(k for k, v in wanted.items() if before.get(k) != v)
    if differ and not module.check_mode:
        # ModifyDBParameterGroup takes at most 20 parameters a call.
        for start in range(0, len(differ), 20):
            client.modify_db_parameter_group(aws_retry=True, DBParameterGroupName=p["name"], Parameters=[
                {"ParameterName": k, "ParameterValue": wanted[k], "ApplyMethod": p["apply_method"]}
                for k in differ[start:start + 20]])
    return differ, dict((k, before.get(k)) for k in wanted), wanted


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            params=dict(type="dict", required=True),
            apply_method=dict(type="str", choices=["immediate", "pending-reboot"], default="immediate"),
        ),
        supports_check_mode=True,
    )
    client = module.client("rds", retry_decorator=RETRY)
    try:
        differ, before, after = ensure_present(client, module)
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not set the parameters of DB parameter group %s" % module.params["name"])
    module.exit_json(changed=bool(differ), parameters=after, changed_parameters=differ,
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
