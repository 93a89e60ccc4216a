"""The AWX job templates launch real playbooks, and every survey variable is one those playbooks use."""

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def playbook_files(path, seen=None):
    """The playbook and every medzen.ehrbase playbook it imports."""
    seen = seen if seen is not None else []
    if path in seen:
        return seen
    seen.append(path)
    for name in re.findall(r"import_playbook:\s*medzen\.ehrbase\.(\w+)", read(path)):
        playbook_files("playbooks/%s.yml" % name, seen)
    return seen


def known_variables(playbook):
    """Variables a playbook really reads: named in its files, or options of the roles they run."""
    files = playbook_files(playbook)
    text = "\n".join(read(f) for f in files)
    names = set(re.findall(r"\b[a-z][a-z0-9_]*\b", text))
    for role in set(re.findall(r"medzen\.ehrbase\.(\w+)", text)):
        spec = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
        if os.path.exists(spec):
            for entry in yaml.safe_load(read(spec))["argument_specs"].values():
                names.update(entry.get("options", {}))
    shared = yaml.safe_load(read("inventories/shared/all.yml"))
    return names, set(shared)


def unknown_survey_variables(template):
    names, shared = known_variables(template["playbook"])
    out = []
    for question in template.get("survey", []):
        var = question["variable"]
        if var not in names:
            out.append(var)
        elif var in shared and var not in "\n".join(read(f) for f in playbook_files(template["playbook"])):
            out.append(var)
    return out


TEMPLATES = yaml.safe_load(read("playbooks/vars/awx_templates.yml"))


@pytest.mark.parametrize("template", TEMPLATES["awx_job_templates"], ids=lambda t: t["name"])
def test_template_launches_a_playbook_and_its_survey_asks_real_variables(template):
    assert os.path.exists(os.path.join(ROOT, template["playbook"])), template["playbook"]
    assert unknown_survey_variables(template) == []
    for question in template.get("survey", []):
        assert question["type"] in ("text", "integer", "multiplechoice", "password", "float", "multiselect", "textarea")
        assert question.get("question_name")


def test_a_misspelt_survey_variable_is_caught():
    typo = {"name": "x", "playbook": "playbooks/failover_drill.yml",
            "survey": [{"variable": "drill_regoin", "type": "text", "question_name": "?"}]}
    assert unknown_survey_variables(typo) == ["drill_regoin"]


def test_site_template_prompts_for_limit_and_check_mode_and_the_workflow_chains_deploy_and_verify():
    site = [t for t in TEMPLATES["awx_job_templates"] if t["playbook"] == "site.yml"][0]
    assert site["ask_limit_on_launch"] and site["ask_job_type_on_launch"]
    names = {t["name"] for t in TEMPLATES["awx_job_templates"]}
    nodes = TEMPLATES["awx_workflow"]["nodes"]
    assert [n["unified_job_template"]["name"] for n in nodes] == ["EHRbase - deploy (site)", "EHRbase - verify"]
    assert all(n["unified_job_template"]["name"] in names for n in nodes)
    assert nodes[0]["related"]["success_nodes"] == [{"identifier": "verify"}]
    confirmations = {q["variable"] for t in TEMPLATES["awx_job_templates"] for q in t.get("survey", [])}
    assert {"drill_confirm", "rollback_confirm", "teardown_confirm"} <= confirmations


def test_every_playbook_has_an_operator_page():
    index = read("docs/README.md")
    for name in sorted(os.listdir(os.path.join(ROOT, "playbooks"))):
        if name.endswith(".yml"):
            assert "playbooks/" + name in index, "docs/README.md does not list playbooks/%s" % name
    for page in re.findall(r"\]\(([a-z_]+\.md)", index):
        assert os.path.exists(os.path.join(ROOT, "docs", page)), page
