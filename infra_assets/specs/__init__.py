"""Pure desired-state specs of the infra plane (ESC environment, GPU pool, CPU node pools, Kubernetes), their rules."""

from __future__ import annotations

from dataclasses import dataclass

from infra_assets.specs.esc import EscEnvironmentSpec, build_esc_spec
from infra_assets.specs.gpu_pool import GpuPoolSpec, build_gpu_pool_spec
from infra_assets.specs.k8s import TEI_SERVICE_URL, K8sSpec, build_k8s_spec
from infra_assets.specs.node_pools import NodePoolSpec, build_node_pool_specs
from resources.profile import EnvProfile


@dataclass(frozen=True, slots=True)
class InfraSpecs:
    """The specs of one environment, built consistently (TEI replicas follow the GPU pool)."""

    esc: EscEnvironmentSpec
    gpu_pool: GpuPoolSpec
    k8s: K8sSpec
    node_pools: tuple[NodePoolSpec, ...] = ()

    def node_pool(self, name: str) -> NodePoolSpec:
        """The CPU node pool called `name` (`KeyError` naming the known ones otherwise)."""
        for pool in self.node_pools:
            if pool.pool_name == name:
                return pool
        raise KeyError(f"no node pool {name!r}; known: {', '.join(p.pool_name for p in self.node_pools)}")


def build_infra_specs(
    profile: EnvProfile,
    *,
    organization: str = "sophia-ai",
    desired_nodes: int | None = None,
    image_tag: str | None = None,
) -> InfraSpecs:
    """All specs for `profile`; `desired_nodes` overrides the pool size (and with it the TEI replica count).

    An override outside the pool's bounds raises `NodeCountError` (a `ValueError`) naming the allowed range.
    """
    # Workloads (and Dagster, when it runs in the cluster) reach the embedding server at its Service URL.
    esc = build_esc_spec(profile, organization=organization, extra_env={"TEI_URL": TEI_SERVICE_URL})
    pool = build_gpu_pool_spec(profile)
    if desired_nodes is not None:
        pool = pool.with_desired(pool.check_nodes(desired_nodes))
    k8s = build_k8s_spec(profile, esc=esc, gpu_pool=pool, image_tag=image_tag)
    return InfraSpecs(esc=esc, gpu_pool=pool, k8s=k8s, node_pools=build_node_pool_specs(profile))
