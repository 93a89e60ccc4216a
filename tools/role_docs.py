"""Keep every role README's variable tables generated from the role's meta/argument_specs.yml.

    python tools/role_docs.py           # rewrite the generated block of every roles/*/README.md
    python tools/role_docs.py --check   # exit 1 and name the READMEs whose block is stale

The block sits between the two GENERATED markers below; everything else in a README (what the role
builds, what it needs before it, what it publishes, an example) is written by hand.
tests/packaging/test_role_readmes.py fails when a block differs from what this script renders, so the
READMEs cannot drift from the argument specs that `ansible-doc -t role` and the role's own validation use.
"""

import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "<!-- BEGIN GENERATED from meta/argument_specs.yml by tools/role_docs.py; do not edit by hand -->"
END = "<!-- END GENERATED -->"
# ansible-doc markup -> Markdown code spans (O(option), C(code), M(module), V(value), I(italic), ...).
MARKUP = re.compile(r"\b[OCMVIREPLU]\(([^)]*)\)")


def roles():
    base = os.path.join(ROOT, "roles")
    return sorted(r for r in os.listdir(base) if os.path.isdir(os.path.join(base, r)) and not r.startswith("."))


def _text(value):
    if value is None:
        return ""
    parts = value if isinstance(value, list) else [value]
    text = " ".join(str(p).strip() for p in parts)
    return MARKUP.sub(lambda m: "`%s`" % m.group(1), text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _default(spec):
    if "default" not in spec:
        return "**required**" if spec.get("required") else "—"
    value = spec["default"]
    if isinstance(value, (dict, list)):
        shown = yaml.safe_dump(value, default_flow_style=True, width=10000).strip()
    elif isinstance(value, bool):
        shown = "true" if value else "false"
    else:
        shown = str(value)
    return "`%s`" % shown.replace("|", "\\|") if shown != "" else '`""`'


def _type(spec):
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = "list of %s" % spec["elements"]
    if spec.get("choices"):
        kind += "; one of %s" % ", ".join("`%s`" % c for c in spec["choices"])
    return kind


def render(role):
    """The generated block (markers included) for one role."""
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as f:
        specs = yaml.safe_load(f)["argument_specs"]
    lines = [BEGIN, ""]
    for entry in sorted(specs, key=lambda e: (e != "main", e)):
        spec = specs[entry]
        tasks = "main.yml" if entry == "main" else entry + ".yml"
        lines.append("### Entry point `%s` (tasks/%s)" % (entry, tasks))
        lines.append("")
        lines.append(_text(spec.get("short_description")) + ".")
        lines.append("")
        options = spec.get("options") or {}
        if not options:
            lines += ["No variables.", ""]
            continue
        lines.append("| Variable | Type | Default | Description |")
        lines.append("|---|---|---|---|")
        for name in sorted(options):
            opt = options[name]
            lines.append("| `%s` | %s | %s | %s |" % (name, _type(opt), _default(opt), _text(opt.get("description"))))
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def readme_path(role):
    return os.path.join(ROOT, "roles", role, "README.md")


def stale_block(role):
    """None when the README's generated block is current, else a reason."""
    path = readme_path(role)
    if not os.path.exists(path):
        return "roles/%s/README.md is missing" % role
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        return "roles/%s/README.md has no generated variables block" % role
    current = text[text.index(BEGIN):text.index(END) + len(END)]
    if current != render(role):
        return "roles/%s/README.md: the variables block differs from meta/argument_specs.yml" % role
    return None


def write(role):
    path = readme_path(role)
    with open(path) as f:
        text = f.read()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + render(role) + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## Variables\n\n" + render(role) + "\n"
    with open(path, "w") as f:
        f.write(text)


def main(argv):
    if "--check" in argv:
        problems = [p for p in (stale_block(r) for r in roles()) if p]
        for p in problems:
            print(p + " - run: python tools/role_docs.py", file=sys.stderr)
        return 1 if problems else 0
    for role in roles():
        if os.path.exists(readme_path(role)):
            write(role)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
