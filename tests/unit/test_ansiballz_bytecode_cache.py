"""local/ansiballz_bytecode_cache.py: modules imported from an AnsiballZ-like payload zip compile once, an edited
source compiles again, a damaged cache file is compiled over, and tracebacks name the payload's file.

Each case runs in a new interpreter (the cache patches zipimport for the process), on the venv's Python.
"""

import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE_MODULE = os.path.join(ROOT, "local", "ansiballz_bytecode_cache.py")

PROBE = r"""
import runpy, sys
cache = runpy.run_path(sys.argv[1], run_name="medzen_ansiballz_bytecode_cache")  # patches zipimport
calls = []
original = cache["_compile_source"]
def counting(pathname, source):
    calls.append(pathname)
    return original(pathname, source)
sys.modules["zipimport"]._compile_source.__globals__["_compile_source"] = counting
sys.path.insert(0, sys.argv[2])
import payload_mod
print(payload_mod.VALUE, len(calls))
try:
    payload_mod.boom()
except ZeroDivisionError as exc:
    print(exc.__traceback__.tb_next.tb_frame.f_code.co_filename)
"""


def payload(tmp_path, value, name="ansible_probe_payload.zip"):
    """A payload zip in a temp folder of its own, as each module run has."""
    folder = tmp_path / ("ansible_probe_payload_%d" % len(list(tmp_path.glob("ansible_probe_payload_*"))))
    folder.mkdir()
    path = folder / name
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("payload_mod.py", "VALUE = %r\n\ndef boom():\n    return 1 / 0\n" % value)
    return str(path)


def probe(tmp_path, zip_path):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-S", "-c", PROBE,
                          CACHE_MODULE, zip_path], capture_output=True, text=True, env=env, check=True,
                         cwd=str(tmp_path)).stdout.split("\n")
    value, compiled = out[0].split()
    return value, int(compiled), out[1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    # The cache lives under sys.prefix; a copy of the module with its folder moved under tmp_path keeps the venv's
    # own cache out of the test.
    src = open(CACHE_MODULE).read()
    assert 'CACHE_DIR = os.path.join(sys.prefix, "ansiballz-bytecode")' in src
    copy = tmp_path / "cache_copy.py"
    copy.write_text(src.replace('os.path.join(sys.prefix, "ansiballz-bytecode")', repr(str(tmp_path / "cache"))))
    monkeypatch.setattr(sys.modules[__name__], "CACHE_MODULE", str(copy))
    return tmp_path / "cache"


def cached_files(cache_dir):
    return sorted(str(p) for p in cache_dir.rglob("*") if p.is_file())


def test_a_payload_module_compiles_once_then_comes_from_the_cache(tmp_path, cache_dir):
    first = payload(tmp_path, "one")
    assert probe(tmp_path, first)[:2] == ("one", 1)
    assert len(cached_files(cache_dir)) == 1
    # The same source in another run's payload (another temp folder) is not compiled again...
    again = payload(tmp_path, "one")
    value, compiled, filename = probe(tmp_path, again)
    assert (value, compiled) == ("one", 0)
    # ... and its tracebacks name this run's payload, not the run that filled the cache.
    assert filename == os.path.join(again, "payload_mod.py")


def test_an_edited_source_is_compiled_again(tmp_path, cache_dir):
    probe(tmp_path, payload(tmp_path, "one"))
    assert probe(tmp_path, payload(tmp_path, "two"))[:2] == ("two", 1)
    assert len(cached_files(cache_dir)) == 2


def test_a_damaged_cache_file_is_compiled_over(tmp_path, cache_dir):
    probe(tmp_path, payload(tmp_path, "one"))
    (damaged,) = cached_files(cache_dir)
    with open(damaged, "wb") as fh:
        fh.write(b"\xe3cut short")
    assert probe(tmp_path, payload(tmp_path, "one"))[:2] == ("one", 1)
    assert probe(tmp_path, payload(tmp_path, "one"))[:2] == ("one", 0)


def test_a_zip_that_is_no_payload_is_left_to_zipimport(tmp_path, cache_dir):
    value, compiled = probe(tmp_path, payload(tmp_path, "one", name="library.zip"))[:2]
    assert value == "one" and compiled >= 1  # CPython 3.11's zipimport compiles it twice: to name the file, to run it
    assert cached_files(cache_dir) == []
