"""The secret-rotation service and its tools, outside the infra plane: `rotation_adapter` (the HTTPS endpoint ESC's
`fn::rotate::external` calls, a separate process with its own management credentials), `rotators` (per-service
create/revoke) and `docs_table` (the per-secret table of docs/secrets.md). See docs/secrets.md."""
