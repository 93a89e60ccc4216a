"""The docsite builds the Ansible way (tools/docsite.py: antsibull-docs, then sphinx-build -W: any warning fails) and
its index lists every module, role and filter of the collection, and the operator pages."""

import glob
import os
import subprocess
import sys

import pytest

from helpers import ROOT


@pytest.fixture(scope="module")
def docsite(tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("docsite"))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "docsite.py"), "--dest", dest],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-6000:]
    return os.path.join(dest, "build", "html")


def names(pattern):
    return sorted(os.path.basename(p).rsplit(".", 1)[0] for p in glob.glob(os.path.join(ROOT, pattern)))


def test_the_docsite_index_lists_every_module_role_and_filter(docsite):
    with open(os.path.join(docsite, "index.html")) as f:
        index = f.read()
    expected = (["%s_module.html" % m for m in names("plugins/modules/*.py")]
                + ["%s_role.html" % r for r in sorted(os.listdir(os.path.join(ROOT, "roles")))]
                + ["%s_filter.html" % f for f in names("plugins/filter/*.yml")])
    missing = [page for page in expected if page not in index or not os.path.exists(os.path.join(docsite, page))]
    assert not missing, "not in the docsite or its index: %s" % missing


def test_the_operator_pages_are_in_the_docsite(docsite):
    pages = names("docs/*.md")
    built = [p for p in pages if os.path.exists(os.path.join(docsite, "guides", p + ".html"))]
    assert built == pages
