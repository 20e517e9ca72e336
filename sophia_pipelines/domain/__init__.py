"""Pure domain logic: no I/O, no Dagster. Everything here is testable in isolation."""
