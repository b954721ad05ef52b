"""Build configuration beyond pyproject.toml: the optional compiled code.

Two kinds, both optional (a machine without a C compiler installs pure Python,
which runs the same code, slower), both described in src/vermilion/_native.py:

* `vermilion._resp` (the RESP codec) and `vermilion._sortedkeys` (the sorted-set
  index): self-contained C extensions, each with a pure-Python twin;
* the hot modules listed in `_native.COMPILED_MODULES`, compiled by Cython from
  their own .py files. A hash of each compiled source and of the .pxd layouts
  goes into `vermilion/_compiled.<abi>.json`, so a stale build is never used.

Only interpreters the project is tested on get compiled code: elsewhere the
install is pure Python, with a notice.
"""
import json
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
TESTED_PYTHONS = {(3, 11), (3, 12), (3, 13)}
# Cython's pure-Python mode, with the source's meaning kept: annotations are not
# C types, functions take keywords as Python functions do.
CYTHON_DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True,
                     "always_allow_keywords": True}


# _native.py (standard library only) is run, not imported: the package's other
# modules need dependencies a build environment does not have.
NATIVE = runpy.run_path(str(SRC / "vermilion" / "_native.py"))


def compiled_module_names() -> list[str]:
    return list(NATIVE["COMPILED_MODULES"])


def source_of(module: str) -> Path:
    return SRC.joinpath(*module.split(".")).with_suffix(".py")


# {module: build_digest} of the sources handed to Cython (see extensions()).
SOURCE_DIGESTS: dict[str, str] = {}


def extensions() -> list[Extension]:
    if sys.implementation.name != "cpython" or sys.version_info[:2] not in TESTED_PYTHONS:
        print(f"vermilion: no compiled code for {sys.implementation.name} "
              f"{sys.version_info.major}.{sys.version_info.minor} (tested: 3.11-3.13); "
              "installing pure Python", file=sys.stderr)
        return []
    exts = [
        Extension("vermilion._resp", sources=["src/vermilion/_resp.c"], optional=True,
                  extra_compile_args=["-O2"]),
        Extension("vermilion._sortedkeys", sources=["src/vermilion/_sortedkeys.c"], optional=True,
                  depends=["src/vermilion/_sortedkeys.h"], extra_compile_args=["-O2"]),
    ]
    try:
        from Cython.Build import cythonize
    except ImportError:
        # A build without Cython would record no compiled module, so everything would
        # run as pure Python with nothing but this line to say so: refuse, unless pure
        # Python is what was asked for. (pip's isolated builds always have Cython: it is
        # in pyproject.toml's build requirements.)
        if NATIVE["PURE_PYTHON"]:
            print("vermilion: VERMILION_PURE_PYTHON is set and Cython is not installed: "
                  "the hot modules stay pure Python", file=sys.stderr)
            return exts
        sys.exit("vermilion: Cython is not installed, so the hot modules cannot be compiled.\n"
                 "Install it (pip install 'Cython>=3.0.8') and build again, or set "
                 "VERMILION_PURE_PYTHON=1 to build without them (everything then runs as "
                 "pure Python).")
    # The record of what is compiled is taken now, before Cython reads the sources: a
    # file edited while the build runs then reads as stale rather than as built.
    layout = NATIVE["layout_digest"](str(SRC / "vermilion"))
    SOURCE_DIGESTS.update((name, NATIVE["build_digest"](str(source_of(name)), layout))
                          for name in compiled_module_names())
    # -O1: half the compile time of -O2 for code that is mostly calls into CPython's API.
    # include_dirs: the C index's API header (vermilion/_sortedkeys.h), which
    # types/sortedset.py reaches through vermilion/_sortedkeys_api.pxd.
    modules = [Extension(name, sources=[str(source_of(name).relative_to(HERE))], optional=True,
                         include_dirs=["src/vermilion"], extra_compile_args=["-O1"])
               for name in compiled_module_names()]
    return exts + cythonize(modules, compiler_directives=CYTHON_DIRECTIVES, quiet=True,
                            build_dir="build/cython")


class BuildExt(build_ext):
    """build_ext that compiles in parallel and records which sources were compiled."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def _built(self, ext) -> bool:
        """The extension exists and is newer than its generated C (a failed optional
        compilation leaves the previous build's file, older than the new C)."""
        path = self.get_ext_fullpath(ext.name)
        return os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(ext.sources[0])

    def run(self):
        super().run()
        # Only modules compiled by this build are recorded: an extension file left from
        # an earlier build (Cython missing now, or its compilation failed) is not, and
        # the import hook then runs every compiled module as source.
        manifest = {ext.name: SOURCE_DIGESTS[ext.name] for ext in self.extensions
                    if ext.name in SOURCE_DIGESTS and self._built(ext)}
        resp = Path(self.get_ext_fullpath("vermilion._resp"))
        resp.parent.mkdir(parents=True, exist_ok=True)
        # One manifest per interpreter ABI: several interpreters may share a checkout.
        manifest_path = resp.parent / ("_compiled" + resp.name[len("_resp"):].replace(".so", ".json"))
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
