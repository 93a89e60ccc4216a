"""ehrbase_health against deliberately broken servers, and the real module through ansible."""

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import ROOT

from ansible_collections.medzen.ehrbase.plugins.module_utils.health import Client, wait_healthy

USER, PASSWORD = "api", "s3cret-api-password-for-tests-only"

# The test environment's state directory (each make test lane has its own).
STATE = os.environ.get("EHRBASE_LOCAL_STATE", os.path.join(ROOT, ".local-test"))


class Fake(BaseHTTPRequestHandler):
    """A programmable EHRbase look-alike; `mode` picks the failure."""

    mode = "ok"
    started = 0.0
    ehrs = {}

    def log_message(self, *args):
        pass

    def send(self, code, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authed(self):
        import base64

        return self.headers.get("Authorization") == "Basic " + base64.b64encode(
            ("%s:%s" % (USER, PASSWORD)).encode()).decode()

    def do_GET(self):
        mode = self.server.mode
        if mode == "slow" and time.monotonic() - self.server.started < 3:
            return self.send(503, {"status": "DOWN"})
        if mode in ("never",):
            return self.send(503, {"status": "DOWN"})
        if self.path.endswith("/management/health"):
            return self.send(200, {"status": "UP"})
        if mode == "401" or not self.authed():
            return self.send(401, {"error": "Unauthorized"})
        if mode == "500":
            return self.send(500, {"error": "boom"})
        if self.path.endswith("/rest/status"):
            return self.send(200, {"ehrbase_version": "2.30.0", "postgres_version": "16.4"})
        ehr_id = self.path.rsplit("/", 1)[-1]
        if ehr_id in self.server.ehrs:
            return self.send(200, {"ehr_id": {"value": ehr_id}})
        return self.send(404, {"error": "not found"})

    def do_POST(self):
        if not self.authed():
            return self.send(401)
        ehr_id = str(uuid.uuid4())
        self.server.ehrs[ehr_id] = True
        etag = str(uuid.uuid4()) if self.server.mode == "bad_etag" else ehr_id
        # Like EHRbase with the forwarded-headers strategy: the link is on the scheme and host the client used;
        # "http_location" is EHRbase behind a TLS-terminating proxy without it (links on http).
        scheme = "http" if self.server.mode == "http_location" else self.server.scheme
        location = "%s://%s/ehrbase/rest/openehr/v1/ehr/%s" % (scheme, self.headers["Host"], ehr_id)
        self.send(201, None, {"ETag": '"%s"' % etag, "Location": location})


@pytest.fixture
def fake():
    servers = []

    def start(mode, tls=False):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
        server.mode, server.started, server.ehrs = mode, time.monotonic(), {}
        scheme = "http"
        if tls:
            cert = os.path.join(STATE, "selfsigned.pem")
            if not os.path.exists(cert):
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                "-subj", "/CN=localhost", "-keyout", cert, "-out", cert], check=True,
                               capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        server.scheme = scheme
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "%s://127.0.0.1:%d/ehrbase" % (scheme, server.server_address[1])

    yield start
    for s in servers:
        s.shutdown()


def check(url, timeout=0, checks=("health", "status", "ehr"), **kw):
    client = Client(url, kw.pop("user", USER), kw.pop("password", PASSWORD), request_timeout=3, **kw)
    return wait_healthy(client, list(checks), timeout, delay=0.5)


def test_healthy_server(fake):
    result = check(fake("ok"))
    assert result["healthy"] is True and result["first_failure"] is None
    assert result["checks"]["status"]["versions"]["ehrbase_version"] == "2.30.0"
    assert all(c["latency_ms"] >= 0 for c in result["checks"].values())


def test_401_names_the_credentials(fake):
    result = check(fake("ok"), password="wrong")
    assert not result["healthy"]
    assert result["first_failure"].startswith("status check: /rest/status answered 401")
    assert result["checks"]["health"]["ok"] is True
    assert result["checks"]["ehr"]["skipped"] is True


def test_500(fake):
    result = check(fake("500"))
    assert "answered HTTP 500" in result["first_failure"]


def test_slow_start_becomes_healthy_within_the_deadline(fake):
    result = check(fake("slow"), timeout=20)
    assert result["healthy"] is True
    assert result["attempts"] > 1


def test_never_healthy_gives_up_at_the_deadline(fake):
    start = time.monotonic()
    result = check(fake("never"), timeout=3)
    assert not result["healthy"]
    assert time.monotonic() - start < 10
    assert "management health answered HTTP 503" in result["first_failure"]
    assert "attempt(s)" in result["first_failure"]


def test_untrusted_tls_is_refused_by_default(fake):
    url = fake("ok", tls=True)
    result = check(url)
    assert not result["healthy"]
    assert "TLS certificate" in result["first_failure"] and "not trusted" in result["first_failure"]
    # Trusting the CA explicitly (or, for a lab, not verifying) makes it pass.
    cert = os.path.join(STATE, "selfsigned.pem")
    assert check(url.replace("127.0.0.1", "localhost"), ca_path=cert)["healthy"] is True
    assert check(url, validate_certs=False)["healthy"] is True


def test_wrong_etag(fake):
    result = check(fake("bad_etag"))
    assert "does not name the ETag's id" in result["first_failure"]


def test_unreachable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = check("http://127.0.0.1:%d/ehrbase" % port)
    assert "cannot reach" in result["first_failure"]


def run_module(args, check_mode=False):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=" + sys.executable, "-m", "medzen.ehrbase.ehrbase_health",
           "-a", json.dumps(args), "-vvv"] + (["--check"] if check_mode else [])
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_module_reports_unhealthy_and_hides_the_password(fake):
    out = run_module({"base_url": fake("500"), "username": USER, "password": PASSWORD, "timeout": 0})
    assert out.returncode != 0
    assert "is unhealthy: status check" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr


def test_module_check_mode_runs_read_only_checks(fake):
    url = fake("ok")
    out = run_module({"base_url": url, "username": USER, "password": PASSWORD, "timeout": 0}, check_mode=True)
    assert out.returncode == 0, out.stdout
    text = out.stdout[out.stdout.index("SUCCESS =>") + len("SUCCESS =>"):]
    result = json.JSONDecoder().raw_decode(text.strip())[0]
    assert sorted(result["checks"]) == ["health", "status"]  # no EHR written in check mode
    assert result["changed"] is False
    assert PASSWORD not in out.stdout + out.stderr


def test_against_the_standin_of_the_test_environment():
    """The stand-in answers 503 until an EHRbase service is deployed in the emulator (integration covers the rest)."""
    import standin

    result = check("http://127.0.0.1:%d/ehrbase" % standin.port("eu-west-1"), checks=("health",))
    assert result["checks"]["health"]["ok"] in (True, False)
    if not result["healthy"]:
        assert "management health answered HTTP 503" in result["first_failure"]


def test_a_location_on_http_behind_tls_is_named(fake):
    result = check(fake("http_location", tls=True), validate_certs=False)
    assert result["healthy"] is False
    assert "is not on https://127.0.0.1:" in result["first_failure"] and "SERVER_FORWARDHEADERSSTRATEGY" in result["first_failure"]
