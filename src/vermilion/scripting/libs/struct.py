"""struct (to be written)."""
SOURCE = r"""
local py = ...
struct = {}
"""

HELPERS = {}
