"""A fault-injecting proxy between the collection and the AWS emulator (EMULATION of what AWS and networks do).

    faultproxy.py --listen 5400 [--target http://127.0.0.1:5000] [--seed 1]
                  [--throttle 0.1] [--error 0.05] [--drop 0.05] [--only eu-central-1:CreateVpc] [--limit 1]
                  [--always eu-central-1:CreateVpc] [--deny af-south-1:DescribeServices]

Point the collection at it (AWS_ENDPOINT_URL=http://127.0.0.1:5400) and every AWS call passes through it:

  throttle  the call is answered "Rate exceeded" in the protocol's own shape (EC2 RequestLimitExceeded, query
            Throttling, JSON ThrottlingException) without reaching the emulator - what AWS does under load;
  error     the call is answered 503 ServiceUnavailable without reaching the emulator;
  drop      a MUTATING call is forwarded, the emulator acts on it, and the connection is then closed before any
            answer - a lost answer (dropped connection, proxy timeout). The SDK retries it: a create that is not
            idempotent at the API runs twice.

Faults are drawn from a seeded random generator, so a seed repeats a run's faults (up to the order in which
parallel regions' calls arrive). --only limits faults to calls named region:Action or Action; --limit caps how
many faults are injected; --always region:Action drops (or, for a read, fails) the first such call for certain;
--deny region:Action answers every such call AccessDenied, which no SDK retries (a permission missing in one region,
as a service control policy or a permissions boundary leaves it).
Every call is counted (reads and mutating per action): GET /faultproxy/stats; the
configuration can be changed while it runs: POST /faultproxy/config with a JSON body of the options above;
POST /faultproxy/reset zeroes the counters. /moto-api/ calls pass untouched and uncounted.

Tests start it in-process (FaultProxy(...).start()); the command line is for trying it by hand.
"""

import argparse
import http.client
import http.server
import json
import random
import re
import sys
import threading
import urllib.parse

# Operation names that only read (everything else changes something).
READ_PREFIXES = ("Describe", "List", "Get", "Search", "Lookup", "BatchGet", "Head", "Query", "Scan", "Filter",
                 "Validate", "Estimate", "Check", "Test")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}


def is_read(action):
    return action.startswith(READ_PREFIXES)


def call_of(method, path, headers, body):
    """(region, service, action) of one AWS request, in any of the protocols the collection uses."""
    scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/", headers.get("Authorization", ""))
    region, service = (scope.group(1), scope.group(2)) if scope else ("", "")
    target = headers.get("X-Amz-Target")
    if target:  # JSON protocols (KMS, Secrets Manager, ECS, CloudWatch Logs, ACM, ...)
        return region, service, target.rsplit(".", 1)[-1]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if "Action" not in query and body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        query = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    if "Action" in query:  # query protocols (EC2, RDS, ELBv2, IAM, SNS, CloudWatch, STS)
        return region, service, query["Action"][0]
    # REST protocols (Route 53): the method says whether it changes something.
    kind = "Get" if method in ("GET", "HEAD") else "Change"
    return region, service, "%s%s" % (kind, urllib.parse.urlsplit(path).path.replace("/", "_"))


def error_answer(service, headers, code, message, status):
    """An AWS error in the shape the caller's protocol expects."""
    if headers.get("X-Amz-Target"):
        return status, "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    if service == "ec2":
        body = ("<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
                "<RequestID>faultproxy</RequestID></Response>" % (code, message))
    else:
        body = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                "<RequestId>faultproxy</RequestId></ErrorResponse>" % (code, message))
    return status, "text/xml", body.encode()


class Faults:
    """What to inject, and the counters (shared by the handler threads under one lock)."""

    def __init__(self, **options):
        self.lock = threading.Lock()
        self.options = {}
        self.rng = random.Random(0)
        self.configure(**options)
        self.reset()

    def configure(self, seed=0, throttle=0.0, error=0.0, drop=0.0, only=None, limit=None, always=None, deny=None):
        with self.lock:
            self.options = {"seed": seed, "throttle": float(throttle), "error": float(error), "drop": float(drop),
                            "only": list(only or []), "limit": limit, "always": list(always or []),
                            "deny": list(deny or [])}
            self.always_left = set(self.options["always"])
            self.rng = random.Random(seed)
            self.injected_total = 0

    def reset(self):
        with self.lock:
            self.calls = {}  # "region:Action" -> count
            self.injected = []  # [{fault, region, action}]
            self.injected_total = 0

    def decide(self, region, action):
        """Count the call and return the fault to inject ('throttle', 'error', 'drop', 'deny' or None)."""
        with self.lock:
            key = "%s:%s" % (region, action)
            self.calls[key] = self.calls.get(key, 0) + 1
            opts = self.options
            fault = self.certain(key, action)
            if fault:
                self.injected.append({"fault": fault, "region": region, "action": action})
                return fault
            if opts["only"] and key not in opts["only"] and action not in opts["only"]:
                return None
            if opts["limit"] is not None and self.injected_total >= int(opts["limit"]):
                return None
            draw = self.rng.random()
            fault = None
            if draw < opts["throttle"]:
                fault = "throttle"
            elif draw < opts["throttle"] + opts["error"]:
                fault = "error"
            elif not is_read(action) and draw < opts["throttle"] + opts["error"] + opts["drop"]:
                fault = "drop"
            if fault:
                self.injected_total += 1
                self.injected.append({"fault": fault, "region": region, "action": action})
            return fault

    def certain(self, key, action):
        """The fault this call gets for certain (under the lock): denied, or the first of an --always call."""
        if key in self.options["deny"] or action in self.options["deny"]:
            return "deny"
        if key in self.always_left or action in self.always_left:
            self.always_left.discard(key if key in self.always_left else action)
            return "error" if is_read(action) else "drop"
        return None

    def stats(self):
        with self.lock:
            reads = {k: v for k, v in self.calls.items() if is_read(k.split(":", 1)[1])}
            writes = {k: v for k, v in self.calls.items() if not is_read(k.split(":", 1)[1])}
            return {"options": self.options, "reads": sum(reads.values()), "mutating": sum(writes.values()),
                    "mutating_calls": writes, "read_calls": reads, "injected": list(self.injected)}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    # The headers and the body go out in two writes: with Nagle's algorithm on, the body waits for the client's
    # delayed ACK, 40 ms on every call (a from-empty run makes about 1,400).
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return  # quiet: the counters say what passed

    def do_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        faults = self.server.faults
        if self.path.startswith("/faultproxy/"):
            return self.control(body)
        if self.path.startswith("/moto-api/"):
            return self.forward(body)
        region, service, action = call_of(self.command, self.path, self.headers, body)
        fault = faults.decide(region, action)
        if fault == "throttle":
            code = "RequestLimitExceeded" if service == "ec2" else (
                "ThrottlingException" if self.headers.get("X-Amz-Target") else "Throttling")
            return self.answer(*error_answer(service, self.headers, code, "Rate exceeded", 400 if service != "ec2" else 503))
        if fault == "error":
            return self.answer(*error_answer(service, self.headers, "ServiceUnavailable",
                                             "Service is unavailable (faultproxy)", 503))
        if fault == "deny":
            code = "AccessDeniedException" if self.headers.get("X-Amz-Target") else "AccessDenied"
            return self.answer(*error_answer(service, self.headers, code, "%s is not allowed in %s (faultproxy)"
                                             % (action, region), 400 if self.headers.get("X-Amz-Target") else 403))
        if fault == "drop":
            self.forward(body, reply=False)
            self.close_connection = True
            return None
        return self.forward(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_any

    def forward(self, body, reply=True):
        target = self.server.target
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if reply:
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            self.answer(resp.status, None, data, out)

    def answer(self, status, content_type, data, headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def control(self, body):
        faults = self.server.faults
        if self.path.startswith("/faultproxy/config"):
            faults.configure(**json.loads(body or b"{}"))
        elif self.path.startswith("/faultproxy/reset"):
            faults.reset()
        self.answer(200, "application/json", json.dumps(faults.stats()).encode())


class FaultProxy:
    """The proxy on 127.0.0.1:<port> in a background thread; .url to point AWS_ENDPOINT_URL at."""

    def __init__(self, target, port=0, **options):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.target = urllib.parse.urlsplit(target)
        self.server.faults = Faults(**options)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="faultproxy", daemon=True)

    @property
    def faults(self):
        return self.server.faults

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--listen", type=int, default=5400)
    parser.add_argument("--target", default="http://127.0.0.1:5000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throttle", type=float, default=0.0)
    parser.add_argument("--error", type=float, default=0.0)
    parser.add_argument("--drop", type=float, default=0.0)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--always", action="append", default=[])
    parser.add_argument("--deny", action="append", default=[])
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.target, args.listen, seed=args.seed, throttle=args.throttle, error=args.error,
                       drop=args.drop, only=args.only, limit=args.limit, always=args.always, deny=args.deny)
    print("faultproxy on %s -> %s (EMULATION of throttling, 5xx, lost answers and denied calls); stats: %s/faultproxy/stats"
          % (proxy.url, args.target, proxy.url), flush=True)
    try:
        proxy.server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(json.dumps(proxy.faults.stats(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
