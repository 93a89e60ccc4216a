"""The packaging checks share one `ansible-galaxy collection build` (the tarball Galaxy would receive)."""

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def tarball(tmp_path_factory):
    """The built collection tarball (pathlib.Path), built once per session."""
    out_dir = tmp_path_factory.mktemp("build")
    version = yaml.safe_load(open(os.path.join(ROOT, "galaxy.yml")))["version"]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    build = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-galaxy"), "collection", "build",
                            "--output-path", str(out_dir), "--force"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    return out_dir / ("medzen-ehrbase-%s.tar.gz" % version)
