"""Build configuration beyond pyproject.toml: the optional C accelerator.

`vermilion._speedups` (the request loop) and `vermilion._sortedkeys` (the sorted
set index) are built when a C compiler is available; if a build fails,
installation continues and the pure-Python equivalents are used (see
src/vermilion/engine/core.py and src/vermilion/types/sortedset.py).
"""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vermilion._speedups",
            sources=["src/vermilion/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        Extension(
            "vermilion._sortedkeys",
            sources=["src/vermilion/_sortedkeys.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ],
)
