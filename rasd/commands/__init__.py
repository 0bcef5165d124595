"""Subcommands of the ``rasd`` CLI that need no torch."""
