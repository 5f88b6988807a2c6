"""Example third-party plugin for debiasbench (see docs: Writing a plugin)."""
