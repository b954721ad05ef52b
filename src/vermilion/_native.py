"""Which compiled code runs: the C codecs and the Cython-compiled modules.

Vermilion has one implementation, in Python. Two kinds of compiled code make
it fast, both optional at install time (setup.py), both ignored when
``VERMILION_PURE_PYTHON=1`` is set (the test suite runs the pure-Python form
too):

* Self-contained C extensions with a documented API, each with a pure-Python
  twin that is the reference and a property test comparing the two:
  ``vermilion._resp`` (the RESP request splitter and reply/command encoders)
  and ``vermilion._sortedkeys`` (the sorted-set index).
* The hot modules listed in COMPILED_MODULES, compiled by Cython from the very
  same ``.py`` files (no second copy of any rule; Cython's pure-Python mode,
  annotations ignored, so they behave as the source does).

A compiled module is only used while it was built from the source file and
the ``.pxd`` layouts and C headers that are there now: setup.py records a hash of both for
each compiled module, and the import hook below loads the ``.py`` instead when
it differs (an edited checkout whose editable install was not rebuilt), so a
stale build can never run instead of the code you read.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys

# The modules setup.py compiles with Cython: the per-request path (framing,
# dispatch, keyspace, replies), the families of the benchmarked commands and what
# they call on every request (score parsing, the memory accounting of collections),
# and the streams' numbers a metrics scrape reads on the loop.
COMPILED_MODULES = (
    "vermilion.server.connection",
    "vermilion.server.server",
    "vermilion.server.resp",
    "vermilion.server.parser",
    "vermilion.engine.clock",
    "vermilion.engine.core",
    "vermilion.engine.engine",
    "vermilion.engine.client",
    "vermilion.engine.keyspace",
    "vermilion.engine.blocking",
    "vermilion.engine.memory",
    "vermilion.engine.replication",
    "vermilion.commands._args",
    "vermilion.commands.connection",
    "vermilion.commands.strings",
    "vermilion.commands.keys",
    "vermilion.commands.lists",
    "vermilion.commands.hashes",
    "vermilion.commands.sets",
    "vermilion.commands.zsets",
    "vermilion.commands.streams",
    "vermilion.commands.pubsub",
    "vermilion.commands.transactions",
    "vermilion.commands.acl",
    "vermilion.commands.scripting",
    "vermilion.commands.memory",
    "vermilion.commands.hyperloglog",
    "vermilion.types.collections",
    "vermilion.types.hyperloglog",
    "vermilion.types.numeric",
    "vermilion.types.sortedset",
    "vermilion.types.stream",
    "vermilion.scripting.fastpath",
    "vermilion.scripting.scripts",
    "vermilion.observe.reading",
)

# Written by setup.py next to the compiled modules, one per interpreter ABI
# (_compiled.cpython-312-x86_64-linux-gnu.json): {module: build_digest(...)}.
MANIFEST = "_compiled" + importlib.machinery.EXTENSION_SUFFIXES[0].replace(".so", ".json").replace(".pyd", ".json")

PURE_PYTHON = os.environ.get("VERMILION_PURE_PYTHON", "") not in ("", "0")

# Compiled modules found but not used because their source changed since the build.
stale: list[str] = []


PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def layout_digest(package_dir: str = PACKAGE_DIR) -> str:
    """sha256 over the package's .pxd files and C headers: the compiled layouts and C
    APIs the modules share (the .h files: _sortedkeys.h, the sorted-set index's C API).
    A module compiled against other layouts is as stale as one compiled from other
    source (its struct offsets and vtables would not match its neighbours')."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(package_dir):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".pxd", ".h")):
                path = os.path.join(root, name)
                digest.update(os.path.relpath(path, package_dir).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


def build_digest(source: str, layout: str) -> str:
    """What setup.py records for a compiled module: its source and the layouts."""
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read())
    digest.update(layout.encode())
    return digest.hexdigest()


def native_module(name: str):
    """``vermilion.<name>`` (a C extension) when it is built and allowed, else None."""
    if PURE_PYTHON:
        return None
    try:
        return importlib.import_module(f"vermilion.{name}")
    except ImportError:
        return None


def _load_manifest() -> dict[str, str]:
    path = os.path.join(os.path.dirname(__file__), MANIFEST)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class _SourceWhenStale(importlib.abc.MetaPathFinder):
    """For the compiled modules: their ``.py`` when pure Python is asked for or the build
    is not current.

    The compiled modules call into each other through their C layouts (a module that
    cimports a class expects that class compiled, with its vtable), so they run
    together or not at all: one module whose source or layouts changed since the build,
    or one the build left out, makes every one of them run as source. Returning None
    lets the normal import machinery run, which prefers the compiled extension over the
    source in the same directory.
    """

    def __init__(self, manifest: dict[str, str], package_dir: str = PACKAGE_DIR):
        self.manifest = manifest
        self.package_dir = package_dir
        self.current: bool | None = None    # decided at the first compiled import

    def _source(self, fullname: str) -> str:
        return os.path.join(self.package_dir, *fullname.split(".")[1:]) + ".py"

    def _build_is_current(self) -> bool:
        if self.current is None:
            layout = layout_digest(self.package_dir)
            outdated, missing, present = [], [], 0
            for name in COMPILED_MODULES:
                source = self._source(name)
                if not os.path.exists(source):
                    continue                # an installation without sources: nothing to compare
                present += 1
                expected = self.manifest.get(name)
                if expected is None:
                    missing.append(name)
                elif build_digest(source, layout) != expected:
                    outdated.append(name)
            # Nothing compiled (no Cython at build time) is a pure-Python install, not a
            # stale one; part of the set missing is a broken build.
            stale.extend(outdated + (missing if len(missing) < present else []))
            self.current = not outdated and not missing
        return self.current

    def find_spec(self, fullname, path, target=None):
        if fullname not in COMPILED_MODULES or not path:
            return None
        source = self._source(fullname)
        if not os.path.exists(source):
            return None
        if PURE_PYTHON or not self._build_is_current():
            return importlib.util.spec_from_file_location(fullname, source)
        return None


def install_import_hook() -> None:
    """Called once by vermilion/__init__.py, before any compiled module is imported."""
    if not any(isinstance(f, _SourceWhenStale) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceWhenStale(_load_manifest()))


def compiled_modules() -> list[str]:
    """The COMPILED_MODULES that are loaded from a compiled extension right now."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [name for name in COMPILED_MODULES
            if (getattr(sys.modules.get(name), "__file__", None) or "").endswith(suffixes)]


def describe() -> str:
    """One line for the log and INFO: what runs compiled."""
    codec = native_module("_resp") is not None
    compiled = compiled_modules()
    if not codec and not compiled:
        return "pure Python"
    parts = []
    if codec:
        parts.append("C codec")
    if compiled:
        parts.append(f"{len(compiled)}/{len(COMPILED_MODULES)} modules compiled")
    return ", ".join(parts)
