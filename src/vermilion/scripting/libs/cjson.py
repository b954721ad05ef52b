"""cjson (to be written)."""
SOURCE = r"""
local py = ...
cjson = {}
"""

HELPERS = {}
