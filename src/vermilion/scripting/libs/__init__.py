"""The libraries Redis bundles for scripts: bit, struct, cjson, cmsgpack.

Each module provides SOURCE, a Lua chunk run before the sandbox prelude. The chunk
receives a table of Python helpers (`Scripts.lib_helpers(name)`) and sets its
global (`bit`, `struct`, ...); the prelude then makes it read-only.
"""
from . import bit, cjson, cmsgpack, struct
from .common import PREAMBLE

LIBRARIES = [
    ("bit", PREAMBLE + bit.SOURCE),
    ("struct", PREAMBLE + struct.SOURCE),
    ("cjson", PREAMBLE + cjson.SOURCE),
    ("cmsgpack", PREAMBLE + cmsgpack.SOURCE),
]


def helpers_for(name: str) -> dict:
    """The Python helpers a library's Lua chunk receives (keys are bytes)."""
    module = {"bit": bit, "struct": struct, "cjson": cjson, "cmsgpack": cmsgpack}[name]
    return {k.encode(): v for k, v in module.HELPERS.items()}
