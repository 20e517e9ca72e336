"""The `<env>-gpu-pool` stack: the Lambda GPU pool as the `LambdaGpuPool` dynamic resource.

The Lambda API key reaches the program only as the secret stack config value `lambdaApiKey`, so it stays
encrypted in the stack's config and state.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from infra_assets.specs.gpu_pool import GpuPoolSpec

RESOURCE_NAME = "gpu-pool"
API_KEY_CONFIG = "lambdaApiKey"
DESIRED_NODES_OUTPUT = "desired_nodes"  # what the pool was sized to (read back by infra_assets.pool_size)


def gpu_pool_program(pool: GpuPoolSpec, *, api_base_url: str | None = None) -> Callable[[], None]:
    """A program that sizes the pool to `pool.desired_nodes`."""

    def program() -> None:
        from infra_assets.lambda_cloud.provider import LambdaGpuPool  # heavy; only when a stack runs

        extra = {"api_base_url": api_base_url} if api_base_url else {}
        gpu_pool = LambdaGpuPool(
            RESOURCE_NAME,
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
        pulumi.export("node_count", gpu_pool.node_count)
        pulumi.export("instance_ids", gpu_pool.instance_ids)
        pulumi.export("instance_ips", gpu_pool.instance_ips)

    return program
