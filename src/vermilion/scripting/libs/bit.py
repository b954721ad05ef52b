"""bit (to be written)."""
SOURCE = r"""
local py = ...
bit = {}
"""

HELPERS = {}
