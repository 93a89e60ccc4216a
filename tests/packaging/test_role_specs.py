"""Every role documents exactly the variables its defaults set, with the same literal defaults."""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles")) if not r.startswith("."))


def load(role, *path):
    full = os.path.join(ROOT, "roles", role, *path)
    if not os.path.exists(full):
        return None
    with open(full) as f:
        return yaml.safe_load(f) or {}


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_matches_defaults(role):
    specs = load(role, "meta", "argument_specs.yml")
    assert specs, "roles/%s has no meta/argument_specs.yml" % role
    options = specs["argument_specs"]["main"].get("options", {})
    defaults = load(role, "defaults", "main.yml") or {}
    assert sorted(set(defaults) - set(options)) == [], "defaults not in the argument spec of %s" % role
    undocumented_default = [k for k, v in options.items() if k not in defaults and "default" in v and not v.get("required")]
    assert undocumented_default == [], "%s documents defaults that defaults/main.yml does not set" % role
    for name, value in defaults.items():
        check_default_documented(role, name, value, options[name])


def check_default_documented(role, name, value, spec):
    assert spec.get("description"), "%s.%s has no description" % (role, name)
    if "{{" in str(value):
        return  # computed from other variables: the spec describes it in words
    assert spec.get("default") == value, "%s.%s: defaults/main.yml says %r, the argument spec %r" % (
        role, name, value, spec.get("default"))


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_has_a_tasks_file(role):
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    for entry in specs:
        tasks = "main.yml" if entry == "main" else entry + ".yml"
        assert os.path.exists(os.path.join(ROOT, "roles", role, "tasks", tasks)), "%s: entry point %s" % (role, entry)
