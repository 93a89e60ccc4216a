#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ehrbase_health
short_description: Prove that an EHRbase endpoint works - health, authenticated status and an openEHR smoke test
version_added: "0.1.0"
author: MedZen Health platform team (@medzen)
description:
  - Checks one EHRbase base URL (for example C(https://eu-west-1.ehr.example.org/ehrbase)) in order -
    C(health) the public Spring actuator health C(/management/health) (200, status UP);
    C(status) the authenticated C(/rest/status) (200, reports the version fields);
    C(ehr) an openEHR smoke test, C(POST /rest/openehr/v1/ehr) (201 with ETag and Location naming the same id)
    then C(GET) it back and compare the id.
  - Retries every check with exponential backoff until they all pass or O(timeout) seconds have passed, so it can
    wait for a service that is still starting (EHRbase needs 30-60 s).
  - Why a custom module - M(ansible.builtin.uri) checks one request at a time; this needs a sequence with a shared
    deadline, a read-back comparison and one plain-words reason for the first failure.
  - Never a write in check mode - only the read-only checks (C(health), C(status)) run then.
options:
  base_url:
    description: EHRbase base URL, including the C(/ehrbase) context path.
    type: str
    required: true
  username:
    description: BASIC-auth API user (the C(api-user) secret).
    type: str
  password:
    description: Its password. Never logged.
    type: str
  checks:
    description: Checks to run, in this order.
    type: list
    elements: str
    choices: [health, status, ehr]
    default: [health, status, ehr]
  timeout:
    description: Seconds to keep retrying before reporting the endpoint unhealthy. 0 means one attempt.
    type: int
    default: 300
  delay:
    description: First pause between attempts, doubled after each attempt up to 15 s.
    type: float
    default: 2
  request_timeout:
    description: Seconds one HTTP request may take.
    type: int
    default: 10
  validate_certs:
    description: Verify the TLS certificate. Leave on for anything but a lab.
    type: bool
    default: true
  ca_path:
    description: CA bundle to trust instead of the system store.
    type: path
  fail_on_unhealthy:
    description: Fail the task when the endpoint is unhealthy at the deadline (else report C(healthy=false)).
    type: bool
    default: true
notes:
  - Supports check mode (read-only checks only).
  - The C(ehr) check creates one empty EHR per run; that is the point of a smoke test against a real database.
    It is a probe, not a change to the deployment, so the module always reports C(changed=false).
"""

EXAMPLES = r"""
- name: Wait until the region serves EHRs (up to 5 minutes)
  medzen.ehrbase.ehrbase_health:
    base_url: https://eu-west-1.ehr.medzenhealth.app/ehrbase
    username: "{{ api.username }}"
    password: "{{ api.password }}"
    timeout: 300
  register: health

- name: Only the public health endpoint, one attempt, report instead of failing
  medzen.ehrbase.ehrbase_health:
    base_url: https://ehr.medzenhealth.app/ehrbase
    checks: [health]
    timeout: 0
    fail_on_unhealthy: false
"""

RETURN = r"""
healthy:
  description: Whether every requested check passed.
  returned: always
  type: bool
checks:
  description: Per check - C(ok), C(status_code), C(latency_ms), C(detail) on failure, C(versions) (status), C(ehr_id) (ehr).
  returned: always
  type: dict
  sample: {"health": {"ok": true, "status_code": 200, "latency_ms": 12, "state": "UP"}}
first_failure:
  description: The first failure in plain words, or null.
  returned: always
  type: str
attempts:
  description: Attempts made.
  returned: always
  type: int
elapsed_s:
  description: Seconds spent.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.medzen.ehrbase.plugins.module_utils.health import (
    ALL_CHECKS,
    READ_ONLY_CHECKS,
    Client,
    wait_healthy,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type="str", required=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            checks=dict(type="list", elements="str", choices=list(ALL_CHECKS), default=list(ALL_CHECKS)),
            timeout=dict(type="int", default=300),
            delay=dict(type="float", default=2),
            request_timeout=dict(type="int", default=10),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            fail_on_unhealthy=dict(type="bool", default=True),
        ),
        required_together=[("username", "password")],
        supports_check_mode=True,
    )
    p = module.params
    checks = [c for c in ALL_CHECKS if c in p["checks"]]
    if module.check_mode:
        checks = [c for c in checks if c in READ_ONLY_CHECKS]
    if any(c in ("status", "ehr") for c in checks) and not p["username"]:
        module.fail_json(msg="checks %s need username and password (the api-user secret)" % checks)
    client = Client(p["base_url"], p["username"], p["password"], p["validate_certs"], p["ca_path"],
                    p["request_timeout"])
    result = wait_healthy(client, checks, p["timeout"], delay=p["delay"])
    result["base_url"] = p["base_url"]
    if not result["healthy"] and p["fail_on_unhealthy"]:
        module.fail_json(msg="%s is unhealthy: %s" % (p["base_url"], result["first_failure"]), **result)
    # The smoke-test EHR is a probe, not a change to the deployment: a verify
    # run after a converged deployment must still report changed=0.
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
