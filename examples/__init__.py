"""Example dataset builders and model templates (not installed; run from the repository root)."""
