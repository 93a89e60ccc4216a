"""The AWX job templates, launched through ansible-runner exactly as AWX 24.6.1 starts a job (see awx_job.py),
against the test emulator: site (converging what is there, or building it on an empty emulator), verify with the AWS credential as the only source of
keys, and the failover drill. Bad survey answers are refused before any change, and no job output holds a secret.

Ordered: the jobs share the deployment the site job builds.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import awx_job  # noqa: E402
from helpers import ENDPOINT, REGIONS, aws, recap  # noqa: E402

# The test emulator and stand-ins (in AWX: a custom credential type or AWX_TASK_ENV would carry the endpoint).
JOB_ENV = {"AWS_ENDPOINT_URL": ENDPOINT,
           "EHRBASE_LOCAL_PORT_OFFSET": os.environ.get("EHRBASE_LOCAL_PORT_OFFSET", "100"),
           "EHRBASE_LOCAL_STATE": os.environ.get("EHRBASE_LOCAL_STATE", "")}
# As in the prod inventory: no keys in the inventory, so the AWX credential is the only source of credentials.
NO_INVENTORY_KEYS = ("ehrbase_aws_access_key", "ehrbase_aws_secret_key")


def service(region):
    prefix = {"eu-west-1": "euw1", "eu-central-1": "euc1", "af-south-1": "afs1"}[region]
    svc = aws("ecs", region).describe_services(cluster="medzen-local-%s-cluster" % prefix,
                                               services=["medzen-local-%s-ehrbase" % prefix])["services"]
    return svc[0] if svc else None


def generated_secrets():
    values = []
    for region in REGIONS:
        sm = aws("secretsmanager", region)
        for entry in sm.list_secrets()["SecretList"]:
            values.append(json.loads(sm.get_secret_value(SecretId=entry["ARN"])["SecretString"])["password"])
    return values


def shown_output(job):
    """What AWX stores and shows for a job: its stdout and its events (artifacts/<id>/job_events)."""
    text = [job.stdout]
    events = os.path.join(job.pdd, "artifacts", "1", "job_events")
    if os.path.isdir(events):
        for name in os.listdir(events):
            text.append(open(os.path.join(events, name)).read())
    return "\n".join(text)


def assert_no_secret(job, extra=()):
    out = shown_output(job)
    leaked = [v for v in (awx_job.CREDENTIAL["AWS_SECRET_ACCESS_KEY"], *extra) if v and v in out]
    assert leaked == [], "a secret is in the job output"


@pytest.fixture(scope="module")
def site_job():
    # No reset: `make test` runs this after the integration tests, whose last one leaves a converged deployment, so
    # the site job converges it (a no-op) like a scheduled AWX deploy; on an empty emulator it builds everything.
    job = awx_job.launch("EHRbase - deploy (site)", {}, extra_env=JOB_ENV, strip_inventory_vars=NO_INVENTORY_KEYS)
    yield job
    job.cleanup()


@pytest.mark.parametrize("template,answers,message", [
    ("EHRbase - failover drill", {"drill_region": "eu-north-1"}, "Value eu-north-1 for 'drill_region' expected to be one of"),
    ("EHRbase - failover drill", {"drill_region": "eu-west-1", "drill_kind": "network"}, "for 'drill_kind' expected to be one of"),
    ("EHRbase - failover drill", {}, "'drill_region' value missing"),
    ("EHRbase - verify", {"verify_timeout": 5}, "'verify_timeout' value 5 is too small"),
    ("EHRbase - verify", {"verify_timeout": "300"}, "expected to be an integer"),
    ("EHRbase - deploy (site)", {"ehrbase_region_rollout": "yes"}, "for 'ehrbase_region_rollout' expected to be one of"),
    ("EHRbase - teardown", {"teardown_target": "eu-west-2", "teardown_confirm": "local/eu-west-2"}, "expected to be one of"),
])
def test_a_survey_answer_outside_the_survey_is_refused_at_launch(template, answers, message):
    with pytest.raises(awx_job.LaunchRefused, match=message):
        awx_job.launch(template, answers)


def test_site_job_converges_every_region(site_job):
    assert site_job.rc == 0 and site_job.status == "successful", site_job.stdout[-5000:]
    result = recap(site_job.stdout)
    assert sorted(result) == sorted(REGIONS) and all(r["failed"] == 0 for r in result.values())
    for region in REGIONS:
        svc = service(region)
        assert svc and svc["status"] == "ACTIVE" and svc["desiredCount"] == 2, region
    # The survey's answer (its default, primary_first) reaches the region order: the primary alone, then the others
    # (on an empty emulator, a first build: every region at once). After the integration suites the deployment is as
    # sealed and the region order is no input, so the job is a fast-path hit, like a scheduled AWX deploy; the
    # rollout task runs either way (the batches themselves: tests/integration/test_fast_path_and_drift.py).
    first_build = "at once (a first build: no region serves anyone yet)" in site_job.stdout
    rollout = ("TASK [Rollout - eu-west-1 + eu-central-1 + af-south-1 at once (a first build" if first_build
               else "TASK [Rollout - eu-west-1 alone, then eu-central-1 + af-south-1]")
    assert rollout in site_job.stdout, [l for l in site_job.stdout.splitlines() if l.startswith("TASK [Rollout")]
    if not first_build:
        assert all("%s: " % r in site_job.stdout and "resources read, as sealed by run" in site_job.stdout
                   for r in REGIONS), site_job.stdout[-5000:]
    assert_no_secret(site_job, generated_secrets())


def test_verify_job_uses_the_aws_credential_and_shows_no_secret(site_job):
    assert site_job.rc == 0
    job = awx_job.launch("EHRbase - verify", {"verify_timeout": 60}, limit="eu-west-1,af-south-1", extra_env=JOB_ENV,
                         strip_inventory_vars=NO_INVENTORY_KEYS, job_id=2)
    try:
        assert job.rc == 0 and job.status == "successful", job.stdout[-4000:]
        assert sorted(recap(job.stdout)) == ["af-south-1", "eu-west-1"]
        assert_no_secret(job, generated_secrets())
    finally:
        job.cleanup()


def test_without_the_credential_the_job_fails_naming_the_credentials(site_job):
    """Proves the verify job above read the AWX credential: the same launch without it cannot sign a call."""
    assert site_job.rc == 0
    job = awx_job.launch("EHRbase - verify", {"verify_timeout": 60}, extra_env=dict(JOB_ENV, AWS_ACCESS_KEY_ID="",
                         AWS_SECRET_ACCESS_KEY=""), strip_inventory_vars=NO_INVENTORY_KEYS, job_id=3)
    try:
        assert job.rc != 0 and job.status == "failed"
        assert "credentials" in job.stdout.lower(), job.stdout[-3000:]
    finally:
        job.cleanup()


def test_failover_drill_job_takes_a_region_down_and_restores_it(site_job):
    assert site_job.rc == 0
    job = awx_job.launch("EHRbase - failover drill", {"drill_region": "af-south-1"}, extra_env=JOB_ENV,
                         strip_inventory_vars=NO_INVENTORY_KEYS, job_id=4)
    try:
        assert job.rc == 0 and job.status == "successful", job.stdout[-5000:]
        assert "detected down after" in job.stdout and "healthy again" in job.stdout
        assert "Africa -> eu-west-1, Europe -> eu-west-1, elsewhere -> eu-west-1" in job.stdout
        assert all(service(r)["desiredCount"] == 2 for r in REGIONS)
        assert_no_secret(job, generated_secrets())
    finally:
        job.cleanup()


def test_a_region_outside_the_inventory_is_refused_by_the_playbook_too(site_job):
    """Extra vars that skip the survey (API, a template with prompted variables) still change nothing."""
    assert site_job.rc == 0
    before = {r: service(r)["desiredCount"] for r in REGIONS}
    tpl = awx_job.template("EHRbase - failover drill")[0]
    job = awx_job.launch("EHRbase - failover drill", {"drill_region": "eu-west-1"}, extra_env=JOB_ENV, job_id=5,
                         extravars_override={"drill_region": "eu-north-1"})
    try:
        assert job.rc != 0 and job.status == "failed", job.stdout[-3000:]
        assert "drill_region=eu-north-1 is not a region of this inventory" in job.stdout
        assert {r: service(r)["desiredCount"] for r in REGIONS} == before
        assert tpl["playbook"] == "playbooks/failover_drill.yml"
    finally:
        job.cleanup()
