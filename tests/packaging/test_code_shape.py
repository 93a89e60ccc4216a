"""Code shape the review asked for: no function above McCabe 15, no import cycle among the local scripts.

Test functions (`test_*`) that check a deployed region row by row are counted too: a long list of
assertions is split into named checks like any other code.
"""

import ast
import os

from radon.complexity import cc_visit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREES = ("plugins", "local", "tools", "tests", "extensions")
LIMIT = 15


def python_files():
    for tree in TREES:
        for base, dirs, files in os.walk(os.path.join(ROOT, tree)):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(base, name)


def test_no_function_above_complexity_limit():
    too_complex = []
    for path in python_files():
        with open(path) as f:
            source = f.read()
        for block in cc_visit(source):
            if block.complexity > LIMIT:
                too_complex.append("%s:%d %s = %d" % (os.path.relpath(path, ROOT), block.lineno, block.fullname,
                                                      block.complexity))
    assert not too_complex, "functions above McCabe %d (split them into named pieces):\n%s" % (
        LIMIT, "\n".join(too_complex))


def local_imports(path, names):
    """Modules of local/ that `path` imports anywhere (top level or inside a function)."""
    found = set()
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in names}
        elif isinstance(node, ast.ImportFrom) and node.module in names:
            found.add(node.module)
    return found


def test_local_scripts_have_no_import_cycle():
    local = os.path.join(ROOT, "local")
    names = {f[:-3] for f in os.listdir(local) if f.endswith(".py")}
    graph = {n: local_imports(os.path.join(local, n + ".py"), names) for n in names}
    cycles = []

    def visit(node, path):
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            else:
                visit(nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "import cycles among local/ scripts: %s" % sorted(set(cycles))
