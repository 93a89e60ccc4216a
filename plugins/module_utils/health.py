# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""Health checks of one EHRbase base URL, retried until a deadline.

Checks, in order (each needs the previous one):
  health  GET  <base>/management/health           public actuator health, 200 + status UP
  status  GET  <base>/rest/status                 BASIC auth, 200 + version fields
  ehr     POST <base>/rest/openehr/v1/ehr          201 + ETag + Location, then GET it back (same id)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import re
import socket
import ssl
import time

from urllib.error import HTTPError, URLError
from urllib.request import HTTPSHandler, Request, build_opener

ALL_CHECKS = ("health", "status", "ehr")
READ_ONLY_CHECKS = ("health", "status")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class CheckFailed(Exception):
    """One check failed; the message is the plain-words reason."""


class Client:
    def __init__(self, base_url, username=None, password=None, validate_certs=True, ca_path=None,
                 request_timeout=10):
        self.base = base_url.rstrip("/")
        self.auth = None
        if username:
            token = base64.b64encode(("%s:%s" % (username, password or "")).encode()).decode()
            self.auth = "Basic " + token
        if validate_certs:
            context = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.opener = build_opener(HTTPSHandler(context=context))
        self.timeout = request_timeout

    def call(self, method, path, auth=True, body=None, headers=None):
        """Returns (status, headers, body text, latency ms); raises CheckFailed on network/TLS errors."""
        url = path if path.startswith("http") else self.base + path
        req = Request(url, data=body, method=method)
        req.add_header("Accept", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        if auth and self.auth:
            req.add_header("Authorization", self.auth)
        start = time.monotonic()
        try:
            resp = self.opener.open(req, timeout=self.timeout)
            status, hdrs, data = resp.status, dict(resp.headers), resp.read()
        except HTTPError as err:
            status, hdrs, data = err.code, dict(err.headers or {}), err.read()
        except URLError as err:
            reason = err.reason
            if isinstance(reason, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(reason):
                raise CheckFailed("TLS certificate of %s is not trusted (%s). Fix the certificate (ACM, DNS name) "
                                  "or pass ca_path; validate_certs=false only for a lab." % (url, reason))
            if isinstance(reason, ssl.SSLError):
                raise CheckFailed("TLS handshake with %s failed: %s" % (url, reason))
            raise CheckFailed("cannot reach %s: %s" % (url, reason))
        except (socket.timeout, TimeoutError):
            raise CheckFailed("%s did not answer within %s s" % (url, self.timeout))
        except (ConnectionError, OSError) as err:
            raise CheckFailed("cannot reach %s: %s" % (url, err))
        latency = int((time.monotonic() - start) * 1000)
        return status, {k.lower(): v for k, v in hdrs.items()}, data.decode("utf-8", "replace"), latency


def _json(text):
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def check_health(client):
    status, dummy, body, ms = client.call("GET", "/management/health", auth=False)
    if status != 200:
        raise CheckFailed("management health answered HTTP %s (%s), expected 200 UP" % (status, body[:200]))
    state = _json(body).get("status")
    if state != "UP":
        raise CheckFailed("management health says status %r, expected 'UP'" % state)
    return {"status_code": status, "latency_ms": ms, "state": state}


def check_status(client):
    status, dummy, body, ms = client.call("GET", "/rest/status")
    if status == 401:
        raise CheckFailed("/rest/status answered 401: the API user/password were rejected (check the api-user "
                          "secret and SECURITY_AUTHUSER/SECURITY_AUTHPASSWORD of the task)")
    if status != 200:
        raise CheckFailed("/rest/status answered HTTP %s, expected 200 (%s)" % (status, body[:200]))
    data = _json(body)
    versions = {k: v for k, v in data.items() if k.endswith("_version")}
    if "ehrbase_version" not in versions:
        raise CheckFailed("/rest/status answered 200 without ehrbase_version: is this EHRbase? (%s)" % body[:200])
    return {"status_code": status, "latency_ms": ms, "versions": versions}


def check_ehr(client):
    status, headers, body, ms = client.call("POST", "/rest/openehr/v1/ehr", body=b"",
                                            headers={"Content-Type": "application/json"})
    if status != 201:
        raise CheckFailed("creating an EHR (POST /rest/openehr/v1/ehr) answered HTTP %s, expected 201 (%s)"
                          % (status, body[:200]))
    etag = headers.get("etag", "").strip().strip('"')
    location = headers.get("location", "")
    if not UUID.match(etag):
        raise CheckFailed("EHR created but the ETag %r is not an EHR id" % headers.get("etag"))
    if not location.rstrip("/").endswith("/" + etag):
        raise CheckFailed("EHR created but Location %r does not name the ETag's id %s" % (location, etag))
    origin = client.base.split("/", 3)[:3]
    if [p.lower() for p in location.split("/", 3)[:3]] != [p.lower() for p in origin]:
        raise CheckFailed("EHR created but Location %r is not on %s: behind the TLS-terminating load balancer EHRbase "
                          "builds links from what it sees; set SERVER_FORWARDHEADERSSTRATEGY (the ecs role does)"
                          % (location, "/".join(origin)))
    status2, headers2, body2, ms2 = client.call("GET", "/rest/openehr/v1/ehr/" + etag)
    if status2 != 200:
        raise CheckFailed("reading back EHR %s answered HTTP %s, expected 200" % (etag, status2))
    got = (_json(body2).get("ehr_id") or {}).get("value")
    if got != etag:
        raise CheckFailed("reading back EHR %s returned ehr_id %r" % (etag, got))
    return {"status_code": status, "latency_ms": ms + ms2, "ehr_id": etag}


CHECKS = {"health": check_health, "status": check_status, "ehr": check_ehr}


def run_checks(client, checks):
    """One attempt: every check in order, stopping at the first failure."""
    results, failure = {}, None
    for name in checks:
        if failure:
            results[name] = {"ok": False, "skipped": True, "detail": "not run: %s failed" % failure[0]}
            continue
        try:
            results[name] = dict(CHECKS[name](client), ok=True)
        except CheckFailed as exc:
            results[name] = {"ok": False, "detail": str(exc)}
            failure = (name, str(exc))
    return results, failure


def wait_healthy(client, checks, timeout, delay=2.0, max_delay=15.0, sleep=time.sleep, clock=time.monotonic):
    """Retry all checks with backoff until they pass or `timeout` seconds have passed."""
    start = clock()
    attempts = 0
    while True:
        attempts += 1
        results, failure = run_checks(client, checks)
        elapsed = clock() - start
        if failure is None or elapsed + delay > timeout:
            return {
                "healthy": failure is None,
                "checks": results,
                "attempts": attempts,
                "elapsed_s": round(elapsed, 1),
                "first_failure": None if failure is None else "%s check: %s (after %d attempt(s) in %.0f s)"
                % (failure[0], failure[1], attempts, elapsed),
            }
        sleep(delay)
        delay = min(delay * 2, max_delay)
