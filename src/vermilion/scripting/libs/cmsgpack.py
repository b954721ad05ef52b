"""cmsgpack (to be written)."""
SOURCE = r"""
local py = ...
cmsgpack = {}
"""

HELPERS = {}
