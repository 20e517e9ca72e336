"""The infra plane of Sophia AI as Dagster assets: ESC environment, Lambda GPU pool, Kubernetes workloads.

Entry points: `infra_assets.definitions.build_infra_definitions(profile, backlog)` for the code location and
`python -m infra_assets {plan,preview,up}` for CI. What differs per environment comes from the profile
(`resources.profile`); the variables the plane reads are listed once in `infra_assets.environment`.
"""
