"""The inventory layout Ansible cannot misread: shared defaults live outside any directory Ansible loads by
itself, so a play anywhere in the repository sees the inventory it is run with."""

import glob
import json
import os
import subprocess
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PLAY = """---
- name: Show what a root-level play sees
  hosts: eu-west-1
  gather_facts: false
  tasks:
    - name: Print the environment and the region's plan
      ansible.builtin.debug:
        msg: "{{ {'env': ehrbase_environment, 'cidr': network_vpc_cidr, 'endpoint': ehrbase_aws.endpoint_url
                  | default('none')} | to_json }}"
"""


def test_no_group_or_host_vars_beside_any_playbook():
    beside = []
    for play_dir in {os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, "**", "*.yml"), recursive=True)
                     if "/." not in p and "/inventories/" not in p}:
        beside += [os.path.relpath(os.path.join(play_dir, d), ROOT) for d in ("group_vars", "host_vars")
                   if os.path.isdir(os.path.join(play_dir, d))]
    assert beside == []


@pytest.mark.parametrize("inventory,env", [("local", "local"), ("prod", "prod")])
def test_a_root_level_play_sees_the_inventory_it_runs_with(inventory, env):
    play = os.path.join(ROOT, "zz_layout_probe_%s.yml" % uuid.uuid4().hex[:8])
    with open(play, "w") as f:
        f.write(PLAY)
    try:
        out = subprocess.run([os.path.join(BIN, "ansible-playbook"), play, "-i", "inventories/%s" % inventory],
                             cwd=ROOT, capture_output=True, text=True, check=False,
                             env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                                      ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"))
    finally:
        os.remove(play)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    result = json.loads(out.stdout)["plays"][0]["tasks"][0]["hosts"]["eu-west-1"]
    seen = json.loads(result["msg"]) if isinstance(result["msg"], str) else result["msg"]
    assert seen["env"] == env
    # The region's plan comes from the one shared file in both inventories.
    assert seen["cidr"] == "10.0.0.0/16"
    assert (seen["endpoint"] != "none") == (inventory == "local")
