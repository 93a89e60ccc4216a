"""What AWS does to a run: throttling, 5xx answers and lost answers - and the repair.

The faults are injected by local/faultproxy.py between the collection and the emulator (an EMULATION of AWS under
load and of dropped connections, with real requests reaching the real emulator). The test starts from an empty
account (from empty is the behaviour under test) and ends with exactly one of every resource the design has, nothing
duplicated and nothing orphaned. Runs killed at any step: test_teardown.py (its rebuild after the teardown).
"""

import os
import re
import sys

import pytest

import drift
from census import FAST, OURS, assert_exactly_one_of_each
from helpers import ENDPOINT, REGIONS, ROOT, aws, recap, unfolded
from helpers import run_without_standby as run_playbook  # this lane's plan (helpers.WITHOUT_STANDBY)

sys.path.insert(0, os.path.join(ROOT, "local"))
from faultproxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def proxy(emulator):
    fp = FaultProxy(ENDPOINT).start()
    yield fp
    fp.stop()


@pytest.fixture
def denying_proxy():
    """A proxy in front of the deployment the fault test converged (no reset): it denies what the test says."""
    fp = FaultProxy(ENDPOINT).start()
    yield fp
    fp.stop()


def through(fp):
    return {"AWS_ENDPOINT_URL": fp.url}


def converge(out_so_far=""):
    """The plain re-run every fault test ends with; it must converge."""
    rc, out = run_playbook("site.yml", *FAST)
    assert rc == 0, out_so_far[-3000:] + "\n----- plain re-run -----\n" + out[-6000:]
    return out


def test_throttled_failing_and_lost_answers_in_one_run_end_with_exactly_one_of_each(proxy):
    """One from-empty run under every kind of answer fault at once (it was one from-empty run per kind): 10 %
    throttled and 5 % 503 answers, 5 % of mutating calls that reach the emulator and lose their answer, and the first
    CreateVpc of eu-central-1 for certain (CreateVpc takes no idempotency token: the SDK's retry makes a second VPC,
    as on AWS). Retries with back-off carry the run through to its end, where it names the twin it made and does not
    seal over it (so it ends non-zero); the next run refuses before any change naming it, repair.yml lists and removes
    it, and a plain re-run converges to exactly one of each."""
    proxy.faults.configure(seed=7, throttle=0.10, error=0.05, drop=0.05, always=["eu-central-1:CreateVpc"])
    rc, out = run_playbook("site.yml", *FAST, env=through(proxy))
    injected = proxy.faults.stats()["injected"]
    assert len([i for i in injected if i["fault"] == "throttle"]) >= 20, injected
    assert len([i for i in injected if i["fault"] == "error"]) >= 10, injected
    assert len([i for i in injected if i["fault"] == "drop"]) >= 5, injected
    # At least the certain twin; the SDK's retry of that CreateVpc can itself lose its answer (5 %: the draws follow
    # the calls' arrival order across the regions running at once), which makes one more.
    vpcs = len(aws("ec2", "eu-central-1").describe_vpcs(Filters=OURS)["Vpcs"])
    assert vpcs >= 2
    faulted = (rc, out)

    # The next run refuses before any change, naming the duplicate and what to do.
    rc, out = run_playbook("site.yml", *FAST)
    text = unfolded(out)
    assert rc != 0 and "a second VPC of the same name" in text and "playbooks/repair.yml" in text, out[-4000:]
    assert "PLAY [Region" not in out

    # repair.yml without the confirmation lists and changes nothing; with it, removes what holds nothing.
    rc, out = run_playbook("playbooks/repair.yml")
    assert rc == 0 and "Nothing was changed" in out and "medzen-local-euc1-vpc" in out, out[-4000:]
    assert len(aws("ec2", "eu-central-1").describe_vpcs(Filters=OURS)["Vpcs"]) == vpcs
    rc, out = run_playbook("playbooks/repair.yml", "-e", "repair_confirm=yes")
    assert rc == 0 and "Removed: vpc vpc-" in out, out[-4000:]
    rc, out = run_playbook("playbooks/repair.yml")
    assert rc == 0 and "Nothing to repair" in out and "Nothing was changed" not in out, out[-4000:]

    converge(faulted[1] if faulted[0] else "")
    assert_exactly_one_of_each(standby={})  # this lane's plan (helpers.WITHOUT_STANDBY)
    the_faulted_run_reached_its_end_and_named_its_own_twin(*faulted)


def the_faulted_run_reached_its_end_and_named_its_own_twin(rc, out):
    """Retries carried the faulted run through every play; it failed only where it refused to seal a region that
    differs from the declaration, eu-central-1's twin VPC among them (a run never ends green over a duplicate it made
    itself)."""
    text = unfolded(out)
    totals = recap(out)
    failed = sorted(r for r in REGIONS if totals[r]["failed"])
    assert rc != 0 and "eu-central-1" in failed and all(totals[r]["failed"] == 1 for r in failed), out[-4000:]
    assert re.search(r"vpc medzen-local-euc1-vpc: [23] VPCs of this name \(vpc-\w+(, vpc-\w+)+\)\. Fix: "
                     r"ansible-playbook playbooks/repair\.yml", text), out[-4000:]
    for region in failed:  # each stopped at its seal, after verify: nothing else failed
        assert "%s: " % region in text and "so the region was NOT SEALED" in text, out[-4000:]
    assert "PLAY [Verify - every region serves EHRs]" in out and "PLAY [Seal - what this complete run left" in out


def test_a_region_failing_in_the_batch_lets_the_other_finish_then_the_run_names_it(denying_proxy):
    """Failure containment: in the batch of non-primary regions, af-south-1 fails (every ECS DescribeServices there
    is denied, as a permission missing in one region would be: no SDK retries AccessDenied) while eu-central-1, in
    the same batch, has drift to repair. eu-central-1 finishes its region play - the drift is put back - and the run
    then stops before any release, DNS or monitoring change, naming af-south-1; no region is sealed over it."""
    seals = dict((r, drift.seal(r)) for r in REGIONS)
    drift.sg_rule("eu-central-1")
    denying_proxy.faults.configure(deny=["af-south-1:DescribeServices"])
    rc, out = run_playbook("site.yml", env=through(denying_proxy))
    text = unfolded(out)
    assert rc != 0 and "af-south-1 failed in the region play" in text and "Nothing more was changed" in text, out[-4000:]
    assert not drift.sg_rule_present("eu-central-1"), out[-4000:]  # the other region of the batch finished its work
    played = out.split("TASK [This region got through its play")[-1].split("TASK [")[0]
    assert "ok: [eu-central-1]" in played and "af-south-1" not in played, played
    assert "PLAY [Monitoring" not in out and "PLAY [Seal" not in out
    assert dict((r, drift.seal(r)) for r in REGIONS) == seals
    denying_proxy.faults.configure()
    rc, out = run_playbook("site.yml", *FAST)
    assert rc == 0, out[-4000:]
