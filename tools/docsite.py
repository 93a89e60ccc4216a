"""Build the collection's docsite the Ansible way (make docs; tests/packaging/test_docsite.py builds it too).

    .venv/bin/python tools/docsite.py [--dest .docsite]

1. `antsibull-docs sphinx-init --use-current --squash-hierarchy` writes the Sphinx project (conf.py, the theme);
2. `antsibull-docs collection --use-current --fail-on-error` renders every module, role (with its argument spec) and
   filter from the collection's own documentation into RST, with the collection's index;
3. the operator pages (docs/*.md) are added under "Guides" and read with MyST;
4. `sphinx-build -W` turns every warning into an error, so a plugin whose documentation breaks fails the build.

The static site is in <dest>/build/html (open index.html). Links between the Markdown pages are checked by
tests/packaging/test_doc_links.py, not here (MyST does not resolve a link to a page outside the docsite, such as a
role's README, so those warnings are suppressed).
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION = "medzen.ehrbase"
BIN = os.path.dirname(sys.executable)

GUIDES_INDEX = """Guides
======

The operator pages of the collection: one per playbook, the architecture, the catalogue, local mode.

.. toctree::
   :maxdepth: 1

{pages}
"""

EXTRA_CONF = """
# Added by tools/docsite.py: the operator pages are Markdown (docs/*.md).
extensions.append('myst_parser')
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
# Links to files outside the docsite (a role README, tests/README.md) cannot resolve here; the packaging test
# test_doc_links.py checks every link of the pages instead.
suppress_warnings = ['myst.xref_missing', 'myst.header']
# This machine reaches no documentation site: references to other collections' plugins and to ansible-core's pages
# become plain links to docs.ansible.com instead of intersphinx lookups. A reference into this collection that does
# not resolve is still a warning, so still an error.
intersphinx_mapping = {}
FOREIGN = 'https://docs.ansible.com/ansible/latest/'
CORE_PAGES = {'common_return_values': 'reference_appendices/common_return_values.html',
              'ansible_configuration_settings': 'reference_appendices/config.html'}


def _foreign_reference(app, env, node, contnode):
    from docutils import nodes
    target = node.get('reftarget', '')
    if target.startswith('ansible_collections.medzen.ehrbase.'):
        return None
    if target.startswith('ansible_collections.'):
        namespace, name, rest = target.split('.', 3)[1:]
        url = FOREIGN + 'collections/%s/%s/%s.html' % (namespace, name, rest.split('__')[0])
    elif target in CORE_PAGES:
        url = FOREIGN + CORE_PAGES[target]
    else:
        return None
    reference = nodes.reference('', '', internal=False, refuri=url)
    reference.append(contnode.deepcopy())
    return reference


def setup(app):
    app.connect('missing-reference', _foreign_reference)
"""


def run(args, cwd=ROOT):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    print("+ " + " ".join(args), flush=True)
    done = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-8000:])
        raise SystemExit("docsite: %s failed (exit %d); the output above says where" % (args[0], done.returncode))
    return done.stdout


def add_guides(rst):
    guides = os.path.join(rst, "guides")
    os.makedirs(guides, exist_ok=True)
    pages = []
    for page in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        name = os.path.basename(page)
        shutil.copy(page, os.path.join(guides, name))
        pages.append("   " + name[:-3])
    with open(os.path.join(guides, "index.rst"), "w") as f:
        f.write(GUIDES_INDEX.format(pages="\n".join(pages)))
    with open(os.path.join(rst, "index.rst"), "a") as f:
        f.write("\n.. toctree::\n   :maxdepth: 1\n   :caption: Guides\n\n   guides/index\n")


def build(dest):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest, mode=0o755)  # sphinx-init wants an existing directory only its owner may write
    antsibull = os.path.join(BIN, "antsibull-docs")
    run([antsibull, "sphinx-init", "--use-current", "--squash-hierarchy", "--dest-dir", dest, COLLECTION])
    with open(os.path.join(dest, "conf.py"), "a") as f:
        f.write(EXTRA_CONF)
    rst = os.path.join(dest, "rst")
    run([antsibull, "collection", "--use-current", "--squash-hierarchy", "--fail-on-error", "--dest-dir", rst,
         COLLECTION])
    add_guides(rst)
    run([os.path.join(BIN, "sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", "-c", dest, rst,
         os.path.join(dest, "build", "html")])
    return os.path.join(dest, "build", "html", "index.html")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=os.path.join(ROOT, ".docsite"))
    args = parser.parse_args(argv)
    print("docsite: %s" % os.path.relpath(build(os.path.abspath(args.dest)), ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
