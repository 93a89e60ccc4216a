"""Local environment for medzen.ehrbase: the AWS emulator and its companions.

    localenv.py up | down | status | reset
    localenv.py backup <region>    EMULATION: a backup copy of the region's database now (see backups.py)
    localenv.py lose <region>      EMULATION of losing a region: its PostgreSQL and EHRbase stand-in stop and its
                                   AWS API answers every call with an error (each call is logged)
    localenv.py restore <region>   undo `lose`: the region's API answers again, its servers start

`up` is idempotent: a service that already runs (pid file alive and port
answering) is reused with its state, so a second `make local` converges the same
deployment. `down` stops only what `up` started, by pid file, never by name.
`reset` empties the emulator and the local databases (start over from nothing).

Services (all on 127.0.0.1):
  moto            AWS emulator, port from AWS_ENDPOINT_URL (default 5000)
  postgres-<reg>  one PostgreSQL per region (RDS stand-in), see pg.py
  standin-<reg>   EHRbase stand-in per region, see standin.py
  module-server   the warm module server (a Unix socket in the state directory), see warm_modules.py
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from settings import HERE, ROOT, STATE  # noqa: E402  pylint: disable=wrong-import-position

RUN = os.path.join(STATE, "run")
LOGS = os.path.join(STATE, "log")
PY = sys.executable


def aws_endpoint():
    url = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"
    parsed = urllib.parse.urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 5000


def port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie still "exists"; treat it as dead.
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(name):
    try:
        with open(os.path.join(RUN, name + ".pid")) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def wait_for(what, check, timeout, proc=None, log=None):
    """Wait with progress: what we wait for and for how long."""
    start = time.monotonic()
    last = 0.0
    while True:
        if check():
            return time.monotonic() - start
        waited = time.monotonic() - start
        if proc is not None and proc.poll() is not None:
            raise SystemExit("%s exited with code %s during start-up; see %s" % (what, proc.returncode, log))
        if waited > timeout:
            raise SystemExit("gave up waiting for %s after %.0f s; see %s" % (what, waited, log))
        if waited - last >= 5:
            print("  ... still waiting for %s (%.0f s of %d s)" % (what, waited, timeout), flush=True)
            last = waited
        time.sleep(0.2)


class Service:
    """A background process with a pid file, a log file and a readiness check."""

    def __init__(self, name, port, argv, env=None, ready_timeout=60, host="127.0.0.1"):
        self.name, self.port, self.argv, self.env = name, port, argv, env or {}
        self.ready_timeout, self.host = ready_timeout, host

    @property
    def log(self):
        return os.path.join(LOGS, self.name + ".log")

    def listening(self):
        return port_open(self.host, self.port)

    def where(self):
        return "%s:%s" % (self.host, self.port)

    def running(self):
        pid = read_pid(self.name)
        return pid is not None and pid_alive(pid) and self.listening()

    def prepare(self):
        """Hook for one-time set-up before the first start (e.g. initdb)."""

    def start(self):
        if self.running():
            print("%-22s reused (pid %s, %s)" % (self.name, read_pid(self.name), self.where()))
            return
        if self.listening():
            raise SystemExit(
                "%s: %s is already used by a process this tool did not start. Stop it or choose "
                "another port (see README, Local mode)." % (self.name, self.where())
            )
        self.prepare()
        env = dict(os.environ, **self.env)
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True, cwd=ROOT)
        with open(os.path.join(RUN, self.name + ".pid"), "w") as fh:
            fh.write(str(proc.pid))
        took = wait_for("%s on %s" % (self.name, self.where()), self.listening, self.ready_timeout, proc, self.log)
        print("%-22s started (pid %s, %s, ready in %.1f s)" % (self.name, proc.pid, self.where(), took))

    def stop(self):
        pid = read_pid(self.name)
        pidfile = os.path.join(RUN, self.name + ".pid")
        if pid is None:
            print("%-22s not started by localenv" % self.name)
            return
        if pid_alive(pid):
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
            print("%-22s stopped (pid %s)" % (self.name, pid))
        else:
            print("%-22s was not running (stale pid file removed)" % self.name)
        try:
            os.unlink(pidfile)
        except FileNotFoundError:  # stopped meanwhile by another stop (a restored server deleted twice)
            pass

    def status(self):
        pid = read_pid(self.name)
        state = "running" if self.running() else ("dead (stale pid)" if pid else "stopped")
        return "%-22s %-18s pid=%-8s %s  log=%s" % (self.name, state, pid or "-", self.where(),
                                                    os.path.relpath(self.log, ROOT))


class ModuleServer(Service):
    """The warm module server (warm_modules.py): a Unix socket in the state directory, not a port."""

    def __init__(self):
        import warm_modules

        self.path = os.path.join(RUN, warm_modules.SOCKET_NAME)
        super().__init__("module-server", 0, [PY, os.path.join(HERE, "warm_modules.py"), "serve", self.path])

    def answers(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(self.path)
            except OSError:
                return False
            return True

    def listening(self):
        return self.answers()

    def where(self):
        return os.path.relpath(self.path, ROOT)

    def start(self):
        if len(os.fsencode(self.path)) > 100:  # a Unix socket's path has at most 107 bytes
            print("%-22s not started: its socket path is too long for a Unix socket (%s); modules run the normal way"
                  % (self.name, self.path))
            return
        super().start()


def services():
    host, port = aws_endpoint()
    moto = Service(
        "moto", port,
        [PY, os.path.join(HERE, "moto_shims.py"), "-H", host, "-p", str(port)],
        # ACM "validates" DNS certificates after this many seconds (AWS needs the DNS records).
        env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_ACM_VALIDATION_WAIT": "3"}, host=host,
    )
    import pg

    import backups

    moto.env["EHRBASE_LOCAL_PG"] = pg.pg_port_map()
    restored = [pg.server(Service, "postgres-restored-" + ident, os.path.join(backups.restored_dir(ident), "data"),
                          number) for ident, number in backups.restored_servers().items()]
    found = [moto, ModuleServer()] + pg.services(Service) + restored
    try:
        import standin
    except ImportError:
        return found
    return found + standin.services(Service)


def lost_dir():
    return os.path.join(STATE, "lost")


def region_services(region):
    """The region's servers: its PostgreSQL, its stand-in, and the read replicas that live in it (replicas.py)."""
    import backups

    mine = ["postgres-restored-" + ident for ident in backups.restored_servers() if backups.server_region(ident) == region]
    return [s for s in services() if s.name in ["postgres-" + region, "standin-" + region] + mine]


def lose(region):
    """The region's API answers with errors (moto_shims.py reads the flag) and its servers stop."""
    os.makedirs(lost_dir(), exist_ok=True)
    with open(os.path.join(lost_dir(), region), "w") as fh:
        fh.write(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    for svc in reversed(region_services(region)):
        svc.stop()
    print("EMULATION: %s is lost - its AWS API answers every call with an error (calls are logged in %s.calls), its "
          "PostgreSQL and EHRbase stand-in are stopped. Undo: python local/localenv.py restore %s"
          % (region, os.path.join(lost_dir(), region), region))


def restore(region):
    flag = os.path.join(lost_dir(), region)
    if os.path.exists(flag):
        os.unlink(flag)
    for svc in region_services(region):
        svc.start()
    print("%s answers again (API, PostgreSQL, EHRbase stand-in)" % region)


def backup(region):
    import backups

    copy = backups.take(region)
    print("EMULATION: backup copy of %s taken at %s (%s) -> %s" % (region, copy["time"], ", ".join(copy["databases"]),
                                                                   os.path.relpath(copy["path"], ROOT)))


def reset_extras():
    """What `reset` empties besides the emulator and the regions' databases: restored servers, copies, lost flags."""
    import shutil

    import backups

    for ident in backups.restored_servers():
        backups.discard(Service, ident)
    for path in (os.path.join(STATE, "backups"), lost_dir()):
        shutil.rmtree(path, ignore_errors=True)


def up():
    lost = set(os.listdir(lost_dir())) if os.path.isdir(lost_dir()) else set()
    in_lost = {s.name for r in lost for s in region_services(r)}
    for svc in services():
        if svc.name in in_lost:
            print("%-22s not started: its region is lost (python local/localenv.py restore <region>)" % svc.name)
            continue
        svc.start()


def reset():
    """Wipes the local deployment: the emulator's state, every local database, restored servers, copies, lost flags."""
    import urllib.request

    import pg

    host, port = aws_endpoint()
    urllib.request.urlopen(urllib.request.Request("http://%s:%d/moto-api/reset" % (host, port), method="POST",
                                                  data=b""), timeout=30).read()
    reset_extras()
    up()  # a region `lose` stopped runs again
    for region in pg.REGIONS:
        pg.reset(region)
    print("emulator and local PostgreSQL servers emptied (restored servers, backup copies and lost flags removed)")


REGION_COMMANDS = {"backup": backup, "lose": lose, "restore": restore}


def main(argv):
    sys.path.insert(0, HERE)
    os.makedirs(RUN, exist_ok=True)
    os.makedirs(LOGS, exist_ok=True)
    cmd = argv[0] if argv else "status"
    if cmd == "up":
        up()
    elif cmd == "down":
        for svc in reversed(services()):
            svc.stop()
    elif cmd == "reset":
        reset()
    elif cmd in REGION_COMMANDS:
        import pg

        if len(argv) != 2 or argv[1] not in pg.REGIONS:
            print("usage: localenv.py %s <region>, one of %s" % (cmd, ", ".join(pg.REGIONS)))
            return 2
        REGION_COMMANDS[cmd](argv[1])
    elif cmd == "status":
        for svc in services():
            print(svc.status())
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
