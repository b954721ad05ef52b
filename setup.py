"""Build configuration beyond pyproject.toml: the optional C accelerator.

`vermilion._speedups` is built when a C compiler is available; if the build
fails, installation continues and the pure-Python path is used (see
src/vermilion/engine/core.py).
"""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vermilion._speedups",
            sources=["src/vermilion/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ],
)
