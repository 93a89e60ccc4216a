"""A bounded writer: a stand-in for the clinicians' clients, for the warm standby's test and benchmark (EMULATION).

It creates EHRs at a steady rate through whichever EHRbase `target()` names at the time of each write (a fixed
region, or where the global name sends Europe), and keeps every acknowledged EHR with the moment its 201 came back:
what a failover or a switchover must not lose is exactly that list. Bounded: it stops after `limit` EHRs, or when
stopped, so a test that forgets it cannot fill a database.

    writer = Writer(target=lambda: ("eu-west-1", base_url), auth=lambda region: "Basic ...").start()
    ...
    writer.stop()
    writer.acked_before(moment)   # [(acked at, region, ehr_id)]

From a shell, against `make local` (or the environment EHRBASE_LOCAL_* and AWS_ENDPOINT_URL name):

    python local/writer.py write eu-west-1 5 > ehrs.txt     # five EHRs, their ids one per line
    python local/writer.py read eu-central-1 < ehrs.txt      # each id with the HTTP status that region answers
"""

import threading
import time
import urllib.error
import urllib.request


class Writer(threading.Thread):
    """POST /rest/openehr/v1/ehr every `interval` seconds through target(); acked and failed writes, with times."""

    def __init__(self, target, auth, interval=0.1, limit=3000, timeout=3.0):
        super().__init__(name="ehr-writer", daemon=True)
        self.target, self.auth = target, auth
        self.interval, self.limit, self.timeout = interval, limit, timeout
        self.acked = []  # (time.monotonic() of the 201, region, ehr_id)
        self.failed = []  # (time.monotonic(), region or None, why)
        self._halt = threading.Event()

    def start(self):
        super().start()
        return self

    def run(self):
        while not self._halt.is_set() and len(self.acked) < self.limit:
            began = time.monotonic()
            self._write_one()
            self._halt.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def _write_one(self):
        region = None
        try:
            region, base_url = self.target()
            req = urllib.request.Request(base_url + "/rest/openehr/v1/ehr", data=b"", method="POST",
                                         headers={"Authorization": self.auth(region)})
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                ehr_id = resp.headers["Location"].rsplit("/", 1)[1]
            self.acked.append((time.monotonic(), region, ehr_id))
        except urllib.error.HTTPError as exc:
            self.failed.append((time.monotonic(), region, "HTTP %d" % exc.code))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a lost region fails in many ways
            self.failed.append((time.monotonic(), region, type(exc).__name__))

    def stop(self):
        self._halt.set()
        self.join(timeout=30)
        return self

    def acked_before(self, moment):
        return [a for a in self.acked if a[0] <= moment]

    def first_ack_after(self, moment):
        """(time, region, ehr_id) of the first write acknowledged after `moment`, or None."""
        return next((a for a in self.acked if a[0] > moment), None)

    def last_ack_before(self, moment):
        before = self.acked_before(moment)
        return before[-1] if before else None


def global_region(route53, domain, regions, origin, continent="EU"):
    """The region Route53 answers the global name from for a client on `continent`, with its health checks emulated:
    a region is down when its health check's path does not answer 200 at the region's own endpoint (origin(region),
    e.g. its stand-in's http://127.0.0.1:<port>), as when the region is lost or fenced by a failover. None when no
    region would answer."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".collections"))
    from ansible_collections.medzen.ehrbase.plugins.filter.route53 import route53_region_for

    zone = next(z for z in route53.list_hosted_zones()["HostedZones"]
                if domain.rstrip(".").endswith(z["Name"].rstrip(".")))
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"], MaxItems="1000")["ResourceRecordSets"]
    paths = {c["HealthCheckConfig"].get("FullyQualifiedDomainName", "").split(".", 1)[0]:
             c["HealthCheckConfig"].get("ResourcePath", "/") for c in route53.list_health_checks()["HealthChecks"]}
    down = [r for r in regions if not _answers(origin(r) + paths.get(r, "/"))]
    return route53_region_for(records, domain, list(regions), down, continent)


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _standin(region):
    import standin  # pylint: disable=import-outside-toplevel

    return "http://127.0.0.1:%d/ehrbase" % standin.port(region)


def _auth(region):
    import base64
    import json
    import os
    import sys

    import boto3

    from settings import ROOT

    sys.path.insert(0, os.path.join(ROOT, ".collections"))
    from ansible_collections.medzen.ehrbase.plugins.module_utils.names import region_short

    prefix = "medzen-local-" + region_short(region)  # inventories/local: ehrbase_project-ehrbase_environment-<short>
    secrets = boto3.client("secretsmanager", region_name=region, aws_access_key_id="testing",
                           aws_secret_access_key="testing",
                           endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"))
    api = json.loads(secrets.get_secret_value(SecretId=prefix + "/ehrbase/api-user")["SecretString"])
    return "Basic " + base64.b64encode(("%(username)s:%(password)s" % api).encode()).decode()


def main(argv):
    """write <region> <count> | read <region> (ids on stdin)."""
    import sys

    if len(argv) < 2 or argv[0] not in ("write", "read"):
        raise SystemExit("usage: writer.py write <region> <count> | writer.py read <region> < ids")
    region, auth = argv[1], _auth(argv[1])
    if argv[0] == "write":
        writer = Writer(lambda: (region, _standin(region)), lambda r: auth, interval=0.05,
                        limit=int(argv[2]) if len(argv) > 2 else 1)
        writer.start().join(timeout=300)
        for entry in writer.acked:
            print(entry[2])
        if writer.failed:
            sys.stderr.write("%d writes refused in %s: %s\n" % (len(writer.failed), region, writer.failed[-1][2]))
            raise SystemExit(1)
        return
    for ehr_id in sys.stdin.read().split():
        req = urllib.request.Request(_standin(region) + "/rest/openehr/v1/ehr/" + ehr_id, headers={"Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        print("%s %d %s" % (ehr_id, status, "served" if status == 200 else "NOT served"))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
