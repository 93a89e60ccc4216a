"""Every role has a README that says what it builds, what it needs, what it publishes and how to use it,
with its variable tables generated from meta/argument_specs.yml (so they cannot drift)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import role_docs  # noqa: E402  (tools/ is not a package)

SECTIONS = ("## Needs before it", "## Outputs", "## Example", "## Variables")


@pytest.mark.parametrize("role", role_docs.roles())
def test_role_readme_has_every_section_and_a_current_variables_block(role):
    assert role_docs.stale_block(role) is None, role_docs.stale_block(role) + " - run: python tools/role_docs.py"
    text = open(role_docs.readme_path(role)).read()
    assert text.startswith("# medzen.ehrbase.%s\n" % role)
    missing = [s for s in SECTIONS if "\n%s\n" % s not in text]
    assert missing == [], "roles/%s/README.md lacks %s" % (role, missing)
    assert "```yaml" in text or "```bash" in text, "roles/%s/README.md has no example" % role


def test_a_changed_argument_spec_makes_the_readme_stale(tmp_path, monkeypatch):
    role = "network"
    for part in ("meta", "README.md"):
        src = os.path.join(ROOT, "roles", role, part)
        dst = tmp_path / "roles" / role / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if os.path.isdir(src):
            dst.mkdir()
            spec = open(os.path.join(src, "argument_specs.yml")).read()
            (dst / "argument_specs.yml").write_text(spec.replace("Who may reach the ALB", "Who can reach the ALB"))
        else:
            dst.write_text(open(src).read())
    monkeypatch.setattr(role_docs, "ROOT", str(tmp_path))
    assert "differs" in role_docs.stale_block(role)
    role_docs.write(role)
    assert role_docs.stale_block(role) is None
