"""Stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test downloads that script from ci-files.testing.ansible.com to put pip into the
virtual environments it creates for the sanity tests; machines that reach only the package
registries cannot. This does the same from the standard library: ensurepip, then pip installs
the requested packages from the configured index. `make sanity` copies it into ansible-test's
cache only when the real script is not there.
"""

import subprocess
import sys

# get-pip.py's own switches; pip install does not know them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                      stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
