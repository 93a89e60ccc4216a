"""galaxy-importer, the importer Galaxy and Automation Hub run on every upload, accepts the built tarball.

Any import error fails. Every warning it prints must be one of KNOWN_WARNINGS, each listed with its reason in
docs/development.md ("Publishing"); a new warning fails this test until it is fixed or listed there.
"""

import json
import os
import re
import subprocess
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

KNOWN_WARNINGS = {
    # tests/sanity/ignore-2.19.txt: only missing-gplv3-license (the collection is Apache-2.0).
    r"Ignore files skip ansible-test sanity tests, found ignore-2\.19\.txt with \d+ statement\(s\)":
        "missing-gplv3-license ignores for an Apache-2.0 collection",
}


def import_tarball(tarball, tmp_path):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), PATH=BIN + os.pathsep + os.environ["PATH"],
               GALAXY_IMPORTER_CONFIG=os.path.join(ROOT, "tests", "packaging", "galaxy-importer.cfg"))
    proc = subprocess.run([sys.executable, "-m", "galaxy_importer.main", "--print-result", str(tarball)],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, check=False, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def unexplained_warnings(output):
    warnings = [line[len("WARNING: "):] for line in output.splitlines() if line.startswith("WARNING: ")]
    return [w for w in warnings if not any(re.search(p, w) for p in KNOWN_WARNINGS)]


def test_galaxy_importer_accepts_the_tarball_with_only_listed_warnings(tarball, tmp_path):
    rc, out = import_tarball(tarball, tmp_path)
    assert rc == 0 and "Importer processing completed successfully" in out, out[-4000:]
    assert "The import failed" not in out, out[-4000:]
    assert unexplained_warnings(out) == [], "fix these or list them with a reason in docs/development.md (Publishing): %s" % (
        unexplained_warnings(out))
    result = json.JSONDecoder().raw_decode(out[out.index("{\n"):])[0]
    roles = {c["name"] for c in result["contents"] if c["content_type"] == "role"}
    assert roles == set(os.listdir(os.path.join(ROOT, "roles")))
    assert all(c.get("readme_html") for c in result["docs_blob"]["contents"] if c["content_type"] == "role")


def test_every_listed_warning_is_explained_in_the_publishing_docs():
    readme = open(os.path.join(ROOT, "docs", "development.md")).read()
    for reason in KNOWN_WARNINGS.values():
        assert reason in readme, reason


def test_an_unlisted_warning_is_caught():
    out = "WARNING: Ignore files skip ansible-test sanity tests, found ignore-2.19.txt with 2 statement(s)\n" \
          "WARNING: something new\n"
    assert unexplained_warnings(out) == ["something new"]
