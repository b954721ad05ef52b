"""The `cython` names the compiled modules use, for running them as plain Python.

A compiled module declares the C types of a few hot locals with
``@cython.locals(...)`` (Cython's pure-Python mode). Compiled, Cython reads those
declarations; run as plain Python without Cython installed, this stand-in makes
them do nothing. Modules import it as::

    try:
        import cython
    except ImportError:
        from .. import _compiling as cython
"""
from __future__ import annotations

from typing import Callable

compiled = False


def locals(**types) -> Callable:  # noqa: A001 -- the name Cython gives it
    return lambda fn: fn


def cfunc(fn: Callable) -> Callable:
    """A module-private helper compiled as a C function (called without Python's call)."""
    return fn

# C types named in those declarations (only their names matter when not compiled).
Py_ssize_t = int
bint = bool
longlong = int


def declare(t, value=None):
    """A module-level C variable when compiled; here, the value."""
    return value


def cast(t, value):
    return value
