"""A warm module server for local mode and the tests (EMULATION of nothing: a faster way to start the same modules).

Every task runs its module as a new Python process (`python AnsiballZ_<module>.py`): the interpreter starts, imports
boto3 and botocore and reads the service's model (ec2's is 2 MB of JSON) before the first AWS call. Measured on
2026-12-04, that start-up was about half of each module run's CPU, and module runs were three quarters of a
`site.yml` run's CPU (tests/README.md, "Where the time goes"). This server starts once per local environment
(`local/localenv.py up`), imports boto3, botocore and the standard library modules once, reads the service models the
collection uses, and then forks a copy of itself for each module run; the copy runs the very AnsiballZ file Ansible
wrote, as `__main__`, with the calling process's argv, environment, working directory, umask and its stdin, stdout
and stderr (passed over the socket as file descriptors), so the module's output goes straight to Ansible.

It is never used in production: `make setup` installs this file into the venv with a .pth that imports it (the
client side below), and it acts only when all of these hold: a socket is named (EHRBASE_LOCAL_MODULE_SERVER, else
run/module-server.sock in the local environment EHRBASE_LOCAL_STATE names; "off" turns it off), the process is an
AnsiballZ module file, and the server runs the same interpreter with the same flags and PYTHON* settings. Anything
else (no server, a server of another venv, a refused request) runs the module the normal way. Only what the payload
does not carry is preloaded: `ansible` and `ansible_collections` always come from the module's own payload zip,
imported fresh in each copy.

Process tree and signals: the caller (the process Ansible started) waits on the socket; the server's handler for
that connection forks the worker, in a process group of its own, and reports its exit status back; the caller exits
with it (or kills itself with the same signal). A SIGTERM, SIGINT or SIGHUP to the caller is passed to the worker's
process group; a caller killed outright (SIGKILL, as the teardown suite kills runs) closes the socket, and the
handler kills the worker's process group at once. An async job's daemon (ansible's async_wrapper starts a session
of its own) lives on after its worker exits, as it does without the server.

    warm_modules.py serve <socket>    run the server (localenv.py starts it; stop it with SIGTERM)
"""

import os
import sys

ENV = "EHRBASE_LOCAL_MODULE_SERVER"
# PYTHON* settings a worker may differ in from the server: the streams are rebuilt from the caller's anyway.
STREAM_ENV = ("PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONHASHSEED")
# Not compared: unbuffered is rebuilt with the streams, hash_randomization follows PYTHONHASHSEED.
IGNORED_FLAGS = ("unbuffered", "hash_randomization")
FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP")
CONNECT_TIMEOUT = 5.0
SOCKET_NAME = "module-server.sock"


def _interpreter():
    """What must be equal between caller and server for a worker to run as the caller would have."""
    flags = tuple((name, getattr(sys.flags, name)) for name in dir(sys.flags)
                  if not name.startswith(("_", "n_")) and name not in IGNORED_FLAGS
                  and isinstance(getattr(sys.flags, name), int))
    pyenv = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON") and k not in STREAM_ENV))
    return (sys.executable, sys.version, flags, pyenv)


def _frame(payload):
    return len(payload).to_bytes(4, "big") + payload


def _recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


# ---------------------------------------------------------------------------------------------------- the caller


def _stream_shape(stream):
    import io

    buffered = isinstance(getattr(stream, "buffer", None), (io.BufferedReader, io.BufferedWriter))
    return (stream.encoding, stream.errors, stream.line_buffering, getattr(stream, "write_through", False), buffered)


def _delegate(path):
    """Run this process's module in the server; returns only if the server cannot (then Python runs it itself)."""
    import array
    import marshal
    import signal
    import socket

    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return
    umask = os.umask(0)
    os.umask(umask)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        request = marshal.dumps({
            "interpreter": _interpreter(), "argv": list(sys.argv), "env": dict(os.environ), "cwd": os.getcwd(),
            "umask": umask, "streams": [_stream_shape(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
        })
        sock.sendmsg([_frame(request)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
        if _recv_exact(sock, 1) != b"+":
            return  # refused: another interpreter or settings; run here
    except (OSError, EOFError, ValueError):
        sock.close()
        return
    # From here the module runs in the server: never run it here too.
    sock.settimeout(None)

    def forward(signum, _frame_unused):
        try:
            sock.sendall(bytes([signum]))
        except OSError:
            pass

    for name in FORWARDED:
        signal.signal(getattr(signal, name), forward)
    try:
        status = _recv_exact(sock, 5)
    except (OSError, EOFError):
        sys.stderr.write("warm module server (%s) lost while it ran %s; the module's outcome is unknown: run the "
                         "task again, or unset %s to run modules without the server\n" % (path, sys.argv[0], ENV))
        os._exit(1)
    kind, code = status[:1], int.from_bytes(status[1:], "big", signed=True)
    if kind == b"s":
        signal.signal(code, signal.SIG_DFL)
        os.kill(os.getpid(), code)
        os._exit(128 + code)
    os._exit(code)


def socket_path(environ):
    """EHRBASE_LOCAL_MODULE_SERVER, else the server of the local environment EHRBASE_LOCAL_STATE names (make local and
    every test target set it); "off": none."""
    path = environ.get(ENV)
    if path is None and environ.get("EHRBASE_LOCAL_STATE"):
        path = os.path.join(environ["EHRBASE_LOCAL_STATE"], "run", SOCKET_NAME)
    return None if path in (None, "", "off") else path


def client_hook():
    path = socket_path(os.environ)
    if path and os.path.basename(sys.argv[0] if sys.argv else "").startswith("AnsiballZ_"):
        _delegate(path)


# ---------------------------------------------------------------------------------------------------- the server

# Imported once in the server; each worker finds them in sys.modules. Never `ansible*`: that comes from the payload.
PRELOAD = (
    "array", "base64", "copy", "datetime", "decimal", "email.utils", "errno", "fnmatch", "functools", "glob", "grp",
    "hashlib", "http.client", "io", "ipaddress", "json", "locale", "marshal", "platform", "pwd", "random", "re",
    "runpy", "secrets", "select", "selectors", "shlex", "shutil", "signal", "socket", "ssl", "stat", "string",
    "subprocess", "syslog", "tempfile", "textwrap", "threading", "time", "traceback", "types", "typing", "uuid",
    "zipfile", "zipimport", "dateutil.parser", "dateutil.tz", "jmespath", "urllib3", "boto3", "boto3.session",
    "botocore.session", "botocore.client", "botocore.config", "botocore.credentials", "botocore.endpoint",
    "botocore.exceptions", "botocore.httpsession", "botocore.paginate", "botocore.parsers", "botocore.regions",
    "botocore.retries.standard", "botocore.retries.adaptive", "botocore.serialize", "botocore.utils", "botocore.waiter",
    "psycopg2", "psycopg2.extras",
)
# The services the roles' modules call (their models, endpoint rules, paginators and waiters are read once).
SERVICES = (
    "acm", "application-autoscaling", "backup", "budgets", "ce", "cloudwatch", "ec2", "ecs", "elbv2", "iam", "kms",
    "logs", "rds", "route53", "secretsmanager", "sns", "ssm", "sts",
)
MODEL_TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")


def _preload():
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _share_botocore_models()


def _share_botocore_models():
    """botocore parses each model file per session (its cache is per Loader): parse each once, in the server.

    Cached by file path, below the loaders' search paths (boto3 adds its own). A worker that changes a model dict (a
    paginator's sdk-extras are merged into it, the same way each time) changes its own copy-on-write page, never the
    server's or another worker's."""
    import boto3.session
    from botocore import loaders

    parsed = {}
    load_file = loaders.JSONFileLoader.load_file

    def shared_load_file(self, file_path):
        if file_path not in parsed:
            parsed[file_path] = load_file(self, file_path)
        return parsed[file_path]

    loaders.JSONFileLoader.load_file = shared_load_file
    listed = {}
    list_available_services = loaders.Loader.list_available_services

    def shared_list_available_services(self, type_name):
        # A listdir of every service's directory (about 1,400 calls) for each client made.
        key = (tuple(self.search_paths), type_name)
        if key not in listed:
            listed[key] = list_available_services(self, type_name)
        return list(listed[key])

    loaders.Loader.list_available_services = shared_list_available_services
    loader = boto3.session.Session()._session.get_component("data_loader")  # pylint: disable=protected-access
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        try:
            loader.load_data(name)
        except Exception:  # pylint: disable=broad-except
            pass  # a botocore without that file: read on demand
    session = boto3.session.Session(aws_access_key_id="warm", aws_secret_access_key="warm", region_name="eu-west-1")
    for service in SERVICES:
        for type_name in MODEL_TYPES:
            try:
                loader.load_service_model(service, type_name)
            except Exception:  # pylint: disable=broad-except
                pass
        # A client made (never called: no connection is opened) fills botocore's global cache of operation names
        # in snake case (xform_name), a fifth of an ec2 client's making.
        try:
            session.client(service, endpoint_url="http://127.0.0.1:9")
        except Exception:  # pylint: disable=broad-except
            pass


def _peer_uid(conn):
    import socket
    import struct

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _receive(conn):
    import array
    import marshal
    import socket

    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - (len(cdata) % fds.itemsize)])
    if len(data) < 4:
        data += _recv_exact(conn, 4 - len(data))
    size = int.from_bytes(data[:4], "big")
    body = data[4:]
    if len(body) < size:
        body += _recv_exact(conn, size - len(body))
    return marshal.loads(body), list(fds)


def _supervise(conn, pid):
    """In the connection's handler: pass the caller's signals on, kill the worker if the caller dies, report."""
    import select
    import signal

    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        ready = select.select([conn] + ([pidfd] if pidfd is not None else []), [], [], None if pidfd is not None else 0.05)[0]
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if conn in ready:
            data = conn.recv(64)
            if not data:  # the caller is gone (killed): so is its module
                _killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os._exit(0)
            for signum in data:
                _killpg(pid, signum)
    if os.WIFSIGNALED(status):
        reply = b"s" + os.WTERMSIG(status).to_bytes(4, "big", signed=True)
    else:
        reply = b"e" + os.waitstatus_to_exitcode(status).to_bytes(4, "big", signed=True)
    try:
        conn.sendall(reply)
    except OSError:
        pass
    os._exit(0)


def _refusal(conn, request, fds, interpreter):
    if _peer_uid(conn) != os.getuid():
        return "another user's process"
    if len(fds) != 3:
        return "no stdin, stdout and stderr passed"
    if request["interpreter"] != interpreter:
        theirs = dict(zip(("executable", "version", "flags", "PYTHON* settings"), request["interpreter"]))
        ours = dict(zip(("executable", "version", "flags", "PYTHON* settings"), interpreter))
        return "another %s: %r, the server's %r" % next((k, theirs[k], ours[k]) for k in ours if theirs[k] != ours[k])
    return None


def _killpg(pid, signum):
    try:
        os.killpg(pid, signum)
    except OSError:
        pass


def _handle(conn, interpreter):
    """The connection's handler (a fork of the server). Returns the job only in the worker it forks."""
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # The server's stop (localenv.py down: SIGTERM to its process group) lets a running module end.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        request, fds = _receive(conn)
        refused = _refusal(conn, request, fds, interpreter)
        if refused:
            print("refused %s: %s (it runs as a process of its own)" % (request.get("argv"), refused), flush=True)
            conn.sendall(b"-")
            os._exit(0)
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        conn.close()
        return request
    try:
        os.setpgid(pid, pid)
    except OSError:  # the worker did it first
        pass
    for fd in fds:
        os.close(fd)
    conn.sendall(b"+")
    _supervise(conn, pid)
    return None


def _streams(shapes):
    import io

    made = []
    for fd, (encoding, errors, line_buffering, write_through, buffered) in enumerate(shapes):
        raw = io.FileIO(fd, "rb" if fd == 0 else "wb", closefd=False)
        binary = raw if not buffered else (io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw))
        made.append(io.TextIOWrapper(binary, encoding=encoding, errors=errors, line_buffering=line_buffering,
                                     write_through=write_through))
    sys.stdin, sys.stdout, sys.stderr = made
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made


def _run(job, base_path):
    """In the worker: become the caller's process and run its AnsiballZ file as __main__."""
    import atexit
    import runpy
    import signal

    # The server's handlers are not the module's.
    atexit._clear()  # pylint: disable=protected-access
    for name in ("SIGCHLD", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(job["env"])
    os.umask(job["umask"])
    try:
        os.chdir(job["cwd"])
    except OSError:
        os.chdir("/")
    _streams(job["streams"])
    sys.argv = list(job["argv"])
    sys.path[:] = base_path
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code = -signal.SIGINT
    except BaseException:  # pylint: disable=broad-except
        sys.excepthook(*sys.exc_info())  # what Python does with an uncaught exception
        code = 1
    _finish(code)


def _exit_code(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    try:
        sys.stderr.write("%s\n" % (value,))
    except Exception:  # pylint: disable=broad-except
        pass
    return 1


def _finish(code):
    """Python's exit, but the part a module can see only: its threads joined, its atexit handlers (AnsibleModule
    removes its temporary directory there), its output flushed. A full interpreter shutdown would free every model
    and module the server loaded, about twice the module's own run."""
    import atexit
    import signal
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pylint: disable=broad-except
            pass  # a closed pipe: Python ignores it too
    if code == -signal.SIGINT:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def serve(path):
    import signal
    import socket

    here = os.path.dirname(os.path.abspath(__file__))
    base_path = [p for p in sys.path if p and os.path.abspath(p) != here]
    interpreter = _interpreter()
    _preload()
    import gc

    gc.freeze()  # what the server loaded is never collected in a worker: its pages stay shared, never copied
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket is the user's alone
    listener.bind(path)
    os.umask(old_umask)
    listener.listen(128)

    def stop(_signum, _frame_unused):
        try:
            os.unlink(path)
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    print("warm module server ready on %s (pid %d, %d modules preloaded)" % (path, os.getpid(), len(sys.modules)),
          flush=True)
    while True:
        conn, _addr = listener.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            job = _handle(conn, interpreter)
            if job is not None:
                return job, base_path
            os._exit(0)
        conn.close()


def main(argv):
    if len(argv) != 2 or argv[0] != "serve":
        sys.stderr.write(__doc__)
        return 2
    job, base_path = serve(argv[1])
    _run(job, base_path)  # in a worker only, and it never returns: its exit is the module's
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
elif __name__ == "medzen_warm_modules":  # imported by the venv's .pth at every start of the venv's Python
    client_hook()
