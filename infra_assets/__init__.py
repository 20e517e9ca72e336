"""The infra plane of Sophia AI as Dagster assets: ESC environment, Lambda GPU pool, Kubernetes workloads.

Entry points: `infra_assets.definitions.build_infra_definitions(env)` for the code location and
`python -m infra_assets {plan,preview,up}` for CI.
"""
