"""The collection builds, documents itself, and its execution environment and changelog are valid."""

import functools
import glob
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                 if not p.endswith("__init__.py"))
ROLES = sorted(os.listdir(os.path.join(ROOT, "roles")))
FILTERS = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml")))


def run(*cmd, cwd=ROOT):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(BIN, cmd[0])] + list(cmd[1:]), cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)


def test_galaxy_build_produces_the_tarball_without_runtime_junk(tarball):
    assert tarball.exists()
    names = tarfile.open(tarball).getnames()
    junk = [n for n in names if n.split("/")[0] in (".venv", ".local", ".local-test", ".collections", ".ansible",
                                                    ".git", ".pytest_cache", "context", ".ci")
            or n.startswith(".local-test-")
            or "__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/output")]
    assert junk == []
    for needed in ("MANIFEST.json", "FILES.json", "plugins/modules/budget.py", "roles/monitoring/tasks/main.yml",
                   "meta/runtime.yml", "playbooks/site.yml", "README.md"):
        assert needed in names


@functools.lru_cache(maxsize=None)
def rendered(kind):
    """ansible-doc's text of every plugin of a kind, rendered in one run (one start-up instead of one per plugin):
    {name: its text, ...}, plus the run's stderr under _stderr. A plugin whose docs do not load has no text."""
    names = {"module": MODULES, "role": ROLES, "filter": FILTERS}[kind]
    out = run("ansible-doc", "-t", kind, *["medzen.ehrbase." + n for n in names])
    assert out.returncode == 0, out.stderr
    sections = re.split(r"^> (?:MODULE|ROLE:|FILTER) \*?medzen\.ehrbase\.(\w+)\*? \(.*$", out.stdout, flags=re.M)
    return dict(zip(sections[1::2], sections[2::2]), _stderr=out.stderr)


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_every_module(module):
    text = rendered("module").get(module)
    assert text is not None, rendered("module")["_stderr"]
    assert "EXAMPLES:" in text and "RETURN VALUES:" in text and "OPTIONS" in text


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_every_role(role):
    text = rendered("role").get(role)
    assert text is not None and "ENTRY POINT:" in text and "main" in text, rendered("role")["_stderr"]


@pytest.mark.parametrize("name", FILTERS)
def test_ansible_doc_renders_every_documented_filter(name):
    assert rendered("filter").get(name) is not None, rendered("filter")["_stderr"]


def test_every_aws_module_is_in_the_action_group():
    runtime = yaml.safe_load(open(os.path.join(ROOT, "meta", "runtime.yml")))
    aws = [m for m in MODULES if "AnsibleAWSModule" in open(os.path.join(ROOT, "plugins", "modules", m + ".py")).read()]
    group = runtime["action_groups"]["aws"]
    assert sorted(m for m in group if isinstance(m, str)) == sorted(aws)
    # One connection default reaches the upstream modules too (the playbooks name only this group).
    extends = [m["metadata"]["extend_group"] for m in group if isinstance(m, dict)]
    assert extends == [["amazon.aws.aws", "community.aws.aws"]]


def test_ansible_builder_creates_the_build_context(tmp_path):
    out = run("ansible-builder", "create", "-f", "execution-environment.yml", "-c", str(tmp_path / "context"),
              "--output-filename", "Containerfile")
    assert out.returncode == 0, out.stdout + out.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "ansible-core==2.19.14" in containerfile and "quay.io/centos/centos:stream9" in containerfile
    assert "psycopg2-binary==2.9.13" in (tmp_path / "context" / "_build" / "requirements.txt").read_text()
    assert "amazon.aws" in (tmp_path / "context" / "_build" / "requirements.yml").read_text()


def test_changelog_fragments_are_valid():
    out = run("antsibull-changelog", "lint")
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr
