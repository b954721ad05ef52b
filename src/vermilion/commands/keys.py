"""keys commands (to be written)."""
