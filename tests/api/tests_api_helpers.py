"""Shared constants of the API tests."""

ROLE_NAMES = ("anonymous", "viewer", "leader", "planner", "admin")
