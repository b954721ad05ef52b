"""Which compiled accelerators to use.

Each C extension of vermilion has a pure-Python twin with the same behaviour, and
the extensions are optional at install time (setup.py). ``VERMILION_PURE_PYTHON=1``
ignores them all, which the test suite uses to run the Python twins.
"""
from __future__ import annotations

import importlib
import os


def native_module(name: str):
    """``vermilion.<name>`` when it is built and allowed, else None."""
    if os.environ.get("VERMILION_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(f"vermilion.{name}")
    except ImportError:
        return None
