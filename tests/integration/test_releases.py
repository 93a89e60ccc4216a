"""Releases: upgrade.yml (refusals, `--check`, a good release region by region with no failed request, a bad one
put back) and site.yml behind the release gate.

Runs on the shared deployment (tests/integration/conftest.py); the last test brings every region back to the
inventory's version.
"""

import re

from drift import running
from helpers import PREFIX, REGIONS, STANDBY, aws, changed_tasks, recap, run_playbook, unfolded


RELEASE_ORDER = ["af-south-1", "eu-west-1", "eu-central-1"]  # inventories/shared/all.yml: a standby after its source


def revisions(region):
    return aws("ecs", region).list_task_definitions(familyPrefix=PREFIX[region] + "-ehrbase")["taskDefinitionArns"]


class Probe:
    """Keeps requesting every region's EHRbase (its stand-in) during a release and counts failed answers."""

    def __init__(self):
        import threading

        self.failures, self.requests, self.stop = [], 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        import os
        import urllib.request

        offset = int(os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "0"))
        while not self.stop.is_set():
            for i, region in enumerate(REGIONS):
                url = "http://127.0.0.1:%d/ehrbase/management/health" % (18080 + offset + i)
                try:
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        ok = resp.status == 200
                except Exception as exc:  # any error is a failed request for the probe
                    ok, resp = False, exc
                self.requests += 1
                if not ok:
                    self.failures.append((region, str(resp)))
            self.stop.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def wait_until_healthy(region, timeout=60):
    """The region's EHRbase answers its health again (its tasks start again after a scale to 0)."""
    import os
    import time
    import urllib.request

    url = "http://127.0.0.1:%d/ehrbase/management/health" % (
        18080 + int(os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "0")) + REGIONS.index(region))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("%s's EHRbase did not answer its health within %d s" % (region, timeout))


def test_upgrade_refuses_latest_and_a_region_that_is_unhealthy_now(deployment):
    before = {r: revisions(r) for r in REGIONS}
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=latest")
    assert rc != 0 and "ecs_ehrbase_version=latest: a release needs a pinned EHRbase tag" in out, out[-3000:]
    ecs = aws("ecs", "af-south-1")
    p = PREFIX["af-south-1"]
    ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=0)
    try:
        rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0")
        assert rc != 0 and "Not releasing: af-south-1 unhealthy: service at 0 desired tasks" in out, out[-3000:]
    finally:
        ecs.update_service(cluster=p + "-cluster", service=p + "-ehrbase", desiredCount=2)
        wait_until_healthy("af-south-1")
    assert {r: revisions(r) for r in REGIONS} == before
    # A warm standby released before its source is refused with the order that would do (nothing changes).
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0",
                           "-e", '{"ehrbase_release_order": ["eu-central-1", "af-south-1", "eu-west-1"]}')
    flat = unfolded(out)
    assert rc != 0 and "releases eu-central-1 before its source eu-west-1" in flat, out[-3000:]
    assert 'ehrbase_release_order=["af-south-1", "eu-west-1", "eu-central-1"]' in flat, flat[-2000:]


def test_upgrade_check_mode_says_what_it_would_release_and_changes_nothing(deployment):
    before = {r: revisions(r) for r in REGIONS}
    rc, out = run_playbook("playbooks/upgrade.yml", "--check", "-e", "ecs_ehrbase_version=2.31.0")
    assert rc == 0, out[-3000:]
    for region in REGIONS:
        assert "Would release ehrbase/ehrbase:2.31.0 in %s" % region in out
    assert {r: revisions(r) for r in REGIONS} == before


def test_good_upgrade_region_by_region_with_no_failed_request(deployment):
    with Probe() as probe:
        rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0")
    assert rc == 0, out[-5000:]
    released = re.findall(r"^TASK \[medzen\.ehrbase\.ecs : Released in ([a-z0-9-]+): ehrbase/ehrbase:2\.31\.0\]", out, re.M)
    assert released == RELEASE_ORDER, released
    for region in REGIONS:
        arn, image, deployments = running(region)
        assert image == "ehrbase/ehrbase:2.31.0" and deployments == 1, (region, image, deployments)
        rds = aws("rds", region)
        snaps = rds.describe_db_snapshots(DBInstanceIdentifier=PREFIX[region] + "-db", SnapshotType="manual")["DBSnapshots"]
        # A warm standby gets none: nothing there migrates, and its records are its source's.
        taken = [s for s in snaps if s["DBSnapshotIdentifier"].startswith(PREFIX[region] + "-pre-2-31-0-")]
        assert len(taken) == (0 if region in STANDBY else 1), (region, taken)
    assert probe.requests > 20 and probe.failures == [], probe.failures[:5]
    assert "Rollout - IN_PROGRESS after" in out and "Rollout - COMPLETED after" in out
    # Only the app tier changes in a release: every region's network and database tiers matched its seal, so their
    # roles were skipped (docs/fast_path.md). Drift in those tiers runs them: the drift test's failing primary.
    as_sealed = re.findall(r"([a-z]+-[a-z]+-\d): the app tier is converged, the network and database tiers are as sealed",
                           unfolded(out))
    assert sorted(as_sealed) == sorted(REGIONS), (as_sealed, out[:6000])
    assert "TASK [medzen.ehrbase.network :" not in out and "TASK [medzen.ehrbase.rds :" not in out
    # A re-run releases nothing.
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.31.0")
    assert rc == 0 and all(recap(out)[r]["changed"] == 0 for r in REGIONS), changed_tasks(out)


def test_bad_upgrade_stops_at_the_first_region_and_puts_it_back(deployment):
    first = RELEASE_ORDER[0]
    before = {r: running(r) for r in REGIONS}
    rc, out = run_playbook("playbooks/upgrade.yml", "-e", "ecs_ehrbase_version=2.32.0-broken")
    assert rc != 0, out[-4000:]
    assert "RELEASE FAILED in %s: ehrbase/ehrbase:2.32.0-broken" % first in out, out[-4000:]
    assert "circuit breaker" in out and "Essential container in task exited" in out
    assert "%s is back on" % first in out and "healthy again" in out
    assert "%s-pre-2-32-0-broken-" % PREFIX[first] in out
    assert {r: running(r) for r in REGIONS} == before
    rc, out = run_playbook("playbooks/verify.yml", "-l", first)
    assert rc == 0, out[-3000:]


def test_site_releases_the_inventory_version_primary_first_then_one_region_at_a_time(deployment):
    # (site.yml with a broken version stopping after the primary is asserted by test_fast_path_and_drift.py's
    # failing primary, on the same deployment.)
    # Back to the inventory's version through the same gate: the primary alone, then the two others - which run
    # beside each other - release in turn, one region at a time, in the play after.
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-4000:]
    released = re.findall(r"^TASK \[medzen\.ehrbase\.ecs : Released in ([a-z0-9-]+): ", out, re.M)
    assert released == ["eu-west-1", "eu-central-1", "af-south-1"], released
    waiting = out[out.index("PLAY [Region - releases waiting for their turn"):]
    assert "Released in eu-central-1" in waiting and "Released in af-south-1" in waiting
    assert "Released in eu-west-1" not in waiting
    assert all(running(r)[1] == "ehrbase/ehrbase:2.30.0" for r in REGIONS)
