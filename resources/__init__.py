"""Clients and backends the assets use. `resources.registry` picks them from the mode (local/production)."""
