"""The code location: a `dg` project whose `defs/` folder loads the data plane and the infra plane.

`sophia_pipelines/` (data plane), `infra_assets/` (infra plane) and `resources/` (clients, backends, the
environment profile) are libraries; this package only assembles them, one folder per area under `defs/`.
"""
