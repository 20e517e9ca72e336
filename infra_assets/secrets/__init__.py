"""Secrets beyond the ESC definitions: the GitHub -> ESC sync workflow, the rotation adapter and its per-service
rotators, and the `secret_age` checks. docs/secrets.md is the map."""
