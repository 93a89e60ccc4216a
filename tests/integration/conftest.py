"""The integration suites share one converged deployment, built from empty once per session.

Building it is the expensive part (about 2 minutes here), so the suites run in one declared order: the ones that
need an empty account first, then the build, then the ones that read the deployment, then the ones that change it
(each puts back what it changed, or runs last), teardown at the very end. `make integration` runs them all in this
order in one environment; `make test` (tests/README.md) runs them in three lanes: `make integration-shared` the
shared-deployment suites, `make integration-own` preflight and faults and then day-2 reports and backups on what the
fault run converged, `make integration-teardown` teardown on a deployment it builds. Each lane keeps this order.
"""

import os

import pytest

from helpers import REGIONS, aws, emulator_reset, run_playbook

ORDER = (
    "test_preflight_rejects.py",  # an emptied emulator per test
    "test_faults.py",  # its own from-empty runs: from empty is what it tests
    "test_build.py",  # empties the emulator, then builds the shared deployment and checks it
    "test_fast_path_and_drift.py",
    "test_dns_and_monitoring.py",
    "test_day2_reports.py",
    "test_releases.py",
    "test_backups_and_recovery.py",
    "test_standby.py",  # leaves eu-central-1 promoted and eu-west-1 fenced: last on its deployment
    "test_teardown.py",  # removes the deployment it finds, then rebuilds it (killing runs on the way) for tests/awx
)


def pytest_collection_modifyitems(items):
    """Run the files in ORDER (tests keep their order inside a file); a file missing from ORDER is an error."""
    rank = {name: i for i, name in enumerate(ORDER)}
    unknown = sorted({os.path.basename(str(item.fspath)) for item in items} - set(rank))
    if unknown:
        raise pytest.UsageError("tests/integration/conftest.py: add %s to ORDER (where it runs decides what "
                                "deployment it finds)" % ", ".join(unknown))
    items.sort(key=lambda item: rank[os.path.basename(str(item.fspath))])


def deployed():
    return any(aws("ec2", region).describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["medzen"]}])["Vpcs"]
               for region in REGIONS)


@pytest.fixture(scope="session")
def deployment():
    """(rc, output) of the site.yml run that built the shared deployment.

    From empty when the emulator holds nothing of ours (test_build.py's first test empties it, so a full run always
    builds from empty); a file run on its own after an earlier session converges what that session left instead.
    """
    if not deployed():
        emulator_reset()
    rc, out = run_playbook("site.yml")
    if rc != 0:
        pytest.fail("site.yml did not build the shared deployment (rc %d):\n%s" % (rc, out[-5000:]))
    return rc, out
