"""Prefect flows: composition only (which step after which, fan-out, pauses)."""
