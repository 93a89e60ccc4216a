"""The catalogue (plugins/module_utils/catalogue.py) covers what the roles manage, and its readers use it.

Each test fails when someone adds to a role, the reader, teardown or the leftovers check without the catalogue:
a module or an option no kind declares, a kind the reader does not read (or reads without the catalogue), a kind
teardown does not remove, a twin the leftovers check does not look for, a stale docs/catalogue.md.
"""

import ast
import glob
import os
import re

import yaml

from ansible_collections.medzen.ehrbase.plugins.module_utils import catalogue
from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import HOW, KINDS
from helpers import ROOT

# Modules that do something to a region but hold no resource of their own: checks, reports, one-off copies.
NOT_RESOURCES = {
    "medzen.ehrbase.ehrbase_health": "calls EHRbase's health and status endpoints",
    "medzen.ehrbase.ehrbase_leftovers": "finds (and on request removes) twins of the catalogue's twin kinds",
    "amazon.aws.rds_instance_snapshot": "a release's or a restore's snapshot: data the collection never deletes",
}
AWS_MODULE = re.compile(r"^(amazon\.aws|community\.aws|medzen\.ehrbase)\.[a-z0-9_]+$")


def tasks_of(path):
    """Every task of a task file, blocks opened."""
    found = []

    def walk(items):
        for task in items or []:
            if isinstance(task, dict):
                found.append(task)
                for key in ("block", "rescue", "always"):
                    walk(task.get(key))
    with open(path) as f:
        walk(yaml.safe_load(f))
    return found


def module_uses(paths):
    """{module: {option, ...}} of the AWS modules that change something (not *_info) in those task files."""
    uses = {}
    for path in paths:
        for task in tasks_of(path):
            for key, value in task.items():
                if AWS_MODULE.match(key) and not key.endswith("_info"):
                    uses.setdefault(key, set()).update(value.keys() if isinstance(value, dict) else ())
    return uses


def building_role_tasks():
    return [p for p in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml")))
            if os.sep + "teardown" + os.sep not in p and os.sep + "preflight" + os.sep not in p]


def test_every_module_a_role_builds_with_is_a_kind_and_every_option_it_sets_is_declared():
    declared = {}
    for kind in KINDS:
        for module, options in kind.modules.items():
            declared.setdefault(module, set()).update(options)
    uses = module_uses(building_role_tasks())
    unknown = sorted(m for m in uses if m not in declared and m not in NOT_RESOURCES)
    assert not unknown, ("roles build with modules no kind of plugins/module_utils/catalogue.py covers: %s. Add the "
                         "resource kind (or the module to its kind) there" % unknown)
    undeclared = dict((m, sorted(o - declared[m] - HOW)) for m, o in uses.items() if m in declared and o - declared[m] - HOW)
    assert not undeclared, ("roles set options the catalogue does not declare (an attribute nobody reads back): %s. "
                            "Declare them on the kind in catalogue.py" % undeclared)
    unused = sorted(m for m in declared if m not in uses)
    assert not unused, "catalogue.py names modules no role uses: %s" % unused


def test_the_coverage_check_would_catch_an_undeclared_module_and_option(tmp_path):
    """The check above is not vacuous: a task file with a new module and a new option fails it."""
    extra = tmp_path / "extra.yml"
    extra.write_text("- name: A queue nobody catalogued\n  community.aws.sqs_queue:\n    name: q\n"
                     "- name: A VPC with an option nobody declared\n  amazon.aws.ec2_vpc_net:\n    name: v\n"
                     "    tenancy: dedicated\n")
    uses = module_uses([str(extra)])
    declared = set(catalogue.CATALOGUE["vpc"].modules["amazon.aws.ec2_vpc_net"])
    assert "community.aws.sqs_queue" not in [m for k in KINDS for m in k.modules]
    assert uses["amazon.aws.ec2_vpc_net"] - declared - HOW == {"tenancy"}


def reader_kinds():
    """The kinds the reader names in its put()/guarded() calls (their first argument)."""
    path = os.path.join(ROOT, "plugins", "module_utils", "converged.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    kinds = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("put", "guarded")
                and node.args):
            first = node.args[0]
            if isinstance(first, ast.Constant):
                kinds.add(first.value)
            elif isinstance(first, ast.IfExp):
                kinds.update(n.value for n in (first.body, first.orelse) if isinstance(n, ast.Constant))
            elif isinstance(first, ast.Name):
                kinds.add("<%s>" % first.id)
    return kinds


def test_the_reader_reads_every_kind_the_catalogue_says_it_reads_and_only_those():
    named = reader_kinds() - {"<kind_key>"}  # the loop over ("subnet", "route_table") and guarded()'s pass-through
    named.update(("subnet", "route_table"))
    readable = set(k.key for k in KINDS if k.reads)
    assert named - readable == set(), "the reader puts kinds the catalogue lacks: %s" % sorted(named - readable)
    assert readable - named == set(), "kinds the catalogue says are read back, the reader never reads: %s" % sorted(
        readable - named)


def test_every_read_call_the_catalogue_names_is_made_by_the_reader():
    with open(os.path.join(ROOT, "plugins", "module_utils", "converged.py")) as f:
        source = f.read()
    with open(os.path.join(ROOT, "plugins", "module_utils", "backup_copies.py")) as f:
        source += f.read()
    missing = sorted((k.key, call) for k in KINDS for call in k.reads if '"%s"' % call not in source)
    assert not missing, "catalogue reads the reader does not make: %s" % missing


def test_teardown_removes_every_kind_or_the_catalogue_says_why_it_is_kept():
    wrong = []
    for kind in KINDS:
        if isinstance(kind.teardown, str):
            assert kind.teardown.startswith("kept: "), kind.key
            continue
        task_file, module = kind.teardown
        path = os.path.join(ROOT, "roles", "teardown", "tasks", task_file)
        if module not in module_uses([path]):
            wrong.append("%s: %s does not use %s" % (kind.key, task_file, module))
    assert not wrong, wrong


def test_teardown_removes_nothing_the_catalogue_does_not_know():
    paths = glob.glob(os.path.join(ROOT, "roles", "teardown", "tasks", "*.yml"))
    teardown_modules = set(k.teardown[1] for k in KINDS if not isinstance(k.teardown, str))
    teardown_modules.add("community.aws.ssm_parameter")  # the converged-state seal, the collection's own record
    extra = sorted(set(module_uses(paths)) - teardown_modules)
    assert not extra, "teardown removes with modules no catalogue kind names as its teardown: %s" % extra


def test_the_leftovers_check_looks_for_every_twin_kind():
    with open(os.path.join(ROOT, "plugins", "modules", "ehrbase_leftovers.py")) as f:
        source = f.read()
    removable = set(re.findall(r'kind == "([a-z_]+)"', source))
    assert removable == set(catalogue.twin_kinds()), (
        "ehrbase_leftovers removes %s; the catalogue's twin kinds are %s" % (sorted(removable), catalogue.twin_kinds()))


def test_the_fields_aws_changes_are_the_catalogues():
    from ansible_collections.medzen.ehrbase.plugins.module_utils.converged import VOLATILE, normalized
    assert VOLATILE == catalogue.aws_changes()
    assert normalized({"DBInstanceStatus": "backing-up", "MultiAZ": True}) == {"MultiAZ": True}


def test_the_census_and_the_creation_plan_come_from_the_catalogue():
    from ansible_collections.medzen.ehrbase.plugins.module_utils.catalogue import creation_plan
    census = catalogue.census()
    assert census["subnet"] == 4 and census["nat_gateway"] == 2 and census["security_group"] == 3
    public = [{"az": "eu-west-1a", "cidr": "10.0.1.0/24"}, {"az": "eu-west-1b", "cidr": "10.0.2.0/24"}]
    private = [{"az": "eu-west-1a", "cidr": "10.0.11.0/24"}, {"az": "eu-west-1b", "cidr": "10.0.12.0/24"}]
    lines = creation_plan("p-euw1", public, private, "ehr.example.org", "eu-west-1")
    for kind in KINDS:
        if kind.scope == "region" and kind.role in catalogue.BUILDING_ROLES:
            assert any(line.startswith(kind.cfn) for line in lines), kind.key
    assert len([line for line in lines if line.startswith("AWS::EC2::NatGateway")]) == 2
    assert not any("{" in line for line in lines), lines
    partnered = creation_plan("p-euw1", public, private, "ehr.example.org", "eu-west-1", "eu-central-1")
    assert "AWS::RDS::DBInstanceAutomatedBackupsReplication p-euw1-db -> eu-central-1" in partnered


def test_an_unknown_kind_is_named_with_where_to_add_it():
    try:
        catalogue.kind("sqs_queue")
    except KeyError as e:
        assert "catalogue.py" in str(e)
    else:
        raise AssertionError("an unknown kind passed")


def test_docs_catalogue_is_the_table_made_from_the_catalogue():
    with open(os.path.join(ROOT, "docs", "catalogue.md")) as f:
        text = f.read()
    assert catalogue.markdown() in text, "docs/catalogue.md is stale: run .venv/bin/python tools/catalogue_doc.py"


def test_every_kind_is_found_by_names_the_naming_rule_has():
    from ansible_collections.medzen.ehrbase.plugins.module_utils.names import resource_names
    names = resource_names("p-euw1")
    unknown = sorted((k.key, n) for k in KINDS for n in k.names if n not in names)
    assert not unknown, "kinds found by names the naming rule (names.py) does not have: %s" % unknown
