"""Secrets beyond the ESC definitions, inside the infra plane: the GitHub -> ESC sync workflow (generated from the
catalogue) and the `secret_age` checks. The rotation adapter is its own service: `secret_rotation`.
docs/secrets.md is the map."""
