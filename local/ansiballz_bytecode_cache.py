"""A bytecode cache for the Python that Ansible's modules import from their AnsiballZ payload (local mode only).

Every module run unpacks its payload zip (the module, ansible.module_utils, the collections' module_utils) and
imports from it with zipimport, which compiles each .py from source on every run (Python keeps no .pyc for a zip;
CPython 3.11's zipimport even compiles each module twice, once to name its file and once to run it).
On this project's local runs that is about a third of an amazon.aws module run (measured 2026-12-04: 0.82 s ->
0.55 s of CPU per ec2_vpc_net_info run; tests/README.md, "Where the time goes"), and the suites make thousands.

`make setup` copies this file into the venv's site-packages with a .pth that imports it, so it is active only for
the venv's interpreter (the one the local inventory gives modules) and never in production, where modules run on
whatever interpreter the controller has. It replaces zipimport's compile step for payload files only: the code is
keyed by the SHA-256 of the Python version's magic number, the optimisation level and the exact source, so an edited
module_utils is compiled again, and what runs is the same source's bytecode - what Python's own .pyc files are for
site-packages. The file name in tracebacks is the payload's, fixed as importlib fixes a .pyc's. Any error (a full
disk, a cache file cut short by a kill) falls back to compiling, as zipimport does.
"""

import hashlib
import marshal
import os
import sys
import types
import zipimport

import _imp
from importlib.util import MAGIC_NUMBER

CACHE_DIR = os.path.join(sys.prefix, "ansiballz-bytecode")
# AnsiballZ writes its payload as <tmp>/ansible_<module>_payload_<random>/ansible_<module>_payload.zip
PAYLOAD = "_payload.zip" + os.sep

_compile_source = zipimport._compile_source


def _cache_file(source):
    key = hashlib.sha256(MAGIC_NUMBER + bytes([sys.flags.optimize]) + source).hexdigest()
    return os.path.join(CACHE_DIR, key[:2], key)


def _store(path, code):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        part = "%s.%d.part" % (path, os.getpid())
        with open(part, "wb") as fh:
            fh.write(marshal.dumps(code))
        os.replace(part, path)  # readers see the whole file or none
    except OSError:
        pass


def compile_source(pathname, source):
    if PAYLOAD not in pathname:
        return _compile_source(pathname, source)
    path = _cache_file(source)
    try:
        with open(path, "rb") as fh:
            code = marshal.loads(fh.read())
        if not isinstance(code, types.CodeType):
            raise ValueError(path)
    except (OSError, EOFError, ValueError, TypeError):
        code = _compile_source(pathname, source)
        _store(path, code)
        return code
    _imp._fix_co_filename(code, pathname)
    return code


zipimport._compile_source = compile_source
