# -*- coding: utf-8 -*-
# Copyright: MedZen Health
# Apache License 2.0
"""The digest of a run's inputs, for the converged-state seal (plugins/module_utils/converged.py), and what the
collection holds exclusively on its resources (plugins/module_utils/declared.py), for the roles that enforce it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.medzen.ehrbase.plugins.module_utils.declared import declared as _declared

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What decides what the roles do, besides the variables: a new version of any of it must never match an old seal.
CODE_DIRS = ("roles", "plugins", "playbooks")
CODE_FILES = ("galaxy.yml", "meta/runtime.yml")
_CODE = {}


def code_digest(root=COLLECTION_ROOT):
    """sha256 over the collection's roles, plugins and playbooks (paths and contents), computed once per process."""
    if root not in _CODE:
        digest = hashlib.sha256()
        paths = [os.path.join(root, f) for f in CODE_FILES]
        for folder in CODE_DIRS:
            for base, dirs, files in os.walk(os.path.join(root, folder)):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                paths.extend(os.path.join(base, f) for f in sorted(files) if not f.endswith(".pyc"))
        for path in paths:
            if os.path.isfile(path):
                digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read() + b"\0")
        _CODE[root] = digest.hexdigest()
    return _CODE[root]


def inputs_digest(variables):
    """sha256 of the variables (any JSON-able mapping) and of the collection's code."""
    text = json.dumps(variables, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((code_digest() + "\0" + text).encode("utf-8")).hexdigest()


class FilterModule(object):
    def filters(self):
        return {"inputs_digest": inputs_digest, "declared": _declared}
