"""The integration suites share converged deployments, each built from empty once per lane.

Building one is the expensive part (about 2 minutes here), so the suites run in one declared order (ORDER): on each
deployment the ones that read it first, then the ones that change it (each puts back what it changed, or runs last).
`make test` (tests/README.md) runs them in three lanes, each on a deployment of its own: `make integration-shared`
the build and the suites on the inventory's plan; `make integration-own` preflight and faults from empty, then day-2
reports, backups and recovery on what the fault run converged, with the plan without a standby (WITHOUT_STANDBY), and
the adoption of the standby; `make integration-teardown` teardown on a deployment it builds, whose rebuild awx and
`make integration-standby` then use. `make integration` runs them all in ORDER in one environment.
"""

import os

import pytest

from helpers import REGIONS, WITHOUT_STANDBY, aws, emulator_reset, run_playbook

ORDER = (
    # lane deploy: the shared deployment, the inventory's plan (eu-central-1 the warm standby of eu-west-1)
    "test_build.py",  # empties the emulator, then builds the shared deployment and checks it
    "test_fast_path_and_drift.py",
    "test_dns_and_monitoring.py",
    "test_releases.py",
    # lane checks: the plan without a standby (helpers.WITHOUT_STANDBY)
    "test_preflight_rejects.py",  # an emptied emulator per test
    "test_faults.py",  # its own from-empty runs: from empty is what it tests
    "test_day2_reports.py",
    "test_backups_and_recovery.py",
    "test_standby_adoption.py",  # makes eu-central-1 the standby the inventory declares: last on its deployment
    # lane teardown
    "test_teardown.py",  # removes the deployment it finds, then rebuilds it (killing runs on the way) for tests/awx
    "test_standby.py",  # leaves eu-central-1 promoted and eu-west-1 fenced: last on its deployment
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


@pytest.fixture(scope="session")
def deployment_without_standby():
    """(rc, output) of site.yml with the plan WITHOUT_STANDBY on what test_faults.py converged (the checks lane):
    every region on a database of its own, protected by its backup copies only (built from empty when nothing of ours
    is there, as `deployment`)."""
    if not deployed():
        emulator_reset()
    rc, out = run_playbook(*WITHOUT_STANDBY, "site.yml")
    if rc != 0:
        pytest.fail("site.yml (without a standby) did not converge the deployment (rc %d):\n%s" % (rc, out[-5000:]))
    return rc, out
