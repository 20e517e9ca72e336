"""The pool stacks: one node pool as the `LambdaGpuPool` dynamic resource (any pool, GPU or CPU).

`<env>-gpu-pool` runs the GPU pool (resource `gpu-pool`, its name since before the CPU pools had stacks: renaming
it would replace the pool); `<env>-<pool name>` runs a CPU node pool (resource `<pool name>`), one stack per pool
so that each pool's size is read and changed on its own (`infra_assets.pool_size`).

The Lambda API key reaches the program only as the secret stack config value `lambdaApiKey`, so it stays
encrypted in the stack's config and state. With `join`, the nodes join the cluster on boot: each launch passes the
pool's cloud-config, filled with the cluster stack's `serverUrl` and secret `joinToken` (read through a
`StackReference`), and scale-down drains with its secret `kubeconfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pulumi

from infra_assets.specs.gpu_pool import GpuPoolSpec

RESOURCE_NAME = "gpu-pool"
API_KEY_CONFIG = "lambdaApiKey"
DESIRED_NODES_OUTPUT = "desired_nodes"  # what the pool was sized to (read back by infra_assets.pool_size)


@dataclass(frozen=True)
class PoolJoin:
    """How a pool's nodes join the cluster: its cloud-config template and the cluster stack holding the secrets."""

    user_data: str  # `specs/cloud_init.render_cloud_config` (placeholders only)
    cluster_stack: str  # fully qualified, e.g. `sophia-ai/sophia-ai/production-cluster`
    drain_timeout_s: float = 600.0
    force_drain: bool = False


class LaunchablePool(Protocol):
    """What the provider needs of a pool spec (`GpuPoolSpec` and `NodePoolSpec` both have it)."""

    @property
    def pool_name(self) -> str: ...
    @property
    def instance_type(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def ssh_key_names(self) -> tuple[str, ...]: ...
    @property
    def file_system_names(self) -> tuple[str, ...]: ...
    @property
    def desired_nodes(self) -> int: ...
    @property
    def name_prefix(self) -> str: ...


def gpu_pool_program(
    pool: GpuPoolSpec, *, api_base_url: str | None = None, join: PoolJoin | None = None
) -> Callable[[], None]:
    """The `<env>-gpu-pool` program: the GPU pool as resource `gpu-pool` (see `pool_program`)."""
    return pool_program(pool, RESOURCE_NAME, api_base_url=api_base_url, join=join)


def node_pool_program(
    pool: LaunchablePool, *, api_base_url: str | None = None, join: PoolJoin | None = None
) -> Callable[[], None]:
    """The `<env>-<pool name>` program of a CPU node pool: the pool as resource `<pool name>`."""
    return pool_program(pool, pool.pool_name, api_base_url=api_base_url, join=join)


def pool_program(
    pool: LaunchablePool, resource_name: str, *, api_base_url: str | None = None, join: PoolJoin | None = None
) -> Callable[[], None]:
    """A program that sizes the pool to `pool.desired_nodes` (joining the cluster with `join`)."""

    def program() -> None:
        from infra_assets.lambda_cloud.provider import LambdaGpuPool  # heavy; only when a stack runs

        extra: dict = {"api_base_url": api_base_url} if api_base_url else {}
        if join is not None:
            cluster = pulumi.StackReference(join.cluster_stack)
            extra |= {
                "user_data": join.user_data,
                "server_url": cluster.get_output("serverUrl"),
                "join_token": cluster.get_output("joinToken"),
                "kubeconfig": cluster.get_output("kubeconfig"),
                "drain_timeout_s": join.drain_timeout_s,
                "force_drain": join.force_drain,
            }
        resource = LambdaGpuPool(
            resource_name,
            pool_name=pool.pool_name,
            instance_type=pool.instance_type,
            region=pool.region,
            ssh_key_names=list(pool.ssh_key_names),
            file_system_names=list(pool.file_system_names),
            desired_nodes=pool.desired_nodes,
            name_prefix=pool.name_prefix,
            api_key=pulumi.Config().require_secret(API_KEY_CONFIG),
            **extra,
        )
        pulumi.export("pool_name", pool.pool_name)
        pulumi.export(DESIRED_NODES_OUTPUT, pool.desired_nodes)
        pulumi.export("node_count", resource.node_count)
        pulumi.export("instance_ids", resource.instance_ids)
        pulumi.export("instance_ips", resource.instance_ips)

    return program
