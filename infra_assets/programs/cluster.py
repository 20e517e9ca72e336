"""The `<env>-cluster` stack: the cluster every pool joins, with secret outputs `kubeconfig` and `joinToken`.

- `source="k3s"`: generates the join and admin tokens, launches the k3s server on one Lambda instance (the same
  `LambdaGpuPool` dynamic resource as the pools, `user_data` = the server's cloud-config) and builds the kubeconfig
  from the server's IP and the CA it serves (`lambda_cloud/k3s.py`).
- `source="kubeconfig"`: an existing cluster; the kubeconfig (secret config `existingKubeconfig`) and, for pools to
  join a k3s cluster, its token (secret config `existingJoinToken`) are passed through.

Outputs: `kubeconfig` and `joinToken` (secrets: ESC reads them with `fn::open::pulumi-stacks`; never printed),
`serverUrl`, `clusterName`, `source`.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from infra_assets.programs.gpu_pool import API_KEY_CONFIG
from infra_assets.specs.cloud_init import render_cloud_config
from infra_assets.specs.cluster import ClusterSpec

KUBECONFIG_OUTPUT = "kubeconfig"
JOIN_TOKEN_OUTPUT = "joinToken"
SERVER_URL_OUTPUT = "serverUrl"
EXISTING_KUBECONFIG_CONFIG = "existingKubeconfig"
EXISTING_JOIN_TOKEN_CONFIG = "existingJoinToken"
EXISTING_SERVER_URL_CONFIG = "existingServerUrl"


def cluster_program(spec: ClusterSpec, *, api_base_url: str | None = None) -> Callable[[], None]:
    """A program creating (or naming) the cluster `spec` describes."""

    def program() -> None:
        config = pulumi.Config()
        pulumi.export("clusterName", spec.name)
        pulumi.export("source", spec.source)
        if not spec.owns_server:
            pulumi.export(KUBECONFIG_OUTPUT, pulumi.Output.secret(config.require_secret(EXISTING_KUBECONFIG_CONFIG)))
            pulumi.export(JOIN_TOKEN_OUTPUT, pulumi.Output.secret(config.get_secret(EXISTING_JOIN_TOKEN_CONFIG) or ""))
            pulumi.export(SERVER_URL_OUTPUT, config.get(EXISTING_SERVER_URL_CONFIG) or "")
            return
        from infra_assets.lambda_cloud.k3s import GeneratedToken, K3sKubeconfig  # heavy; only when a stack runs
        from infra_assets.lambda_cloud.provider import LambdaGpuPool

        join = GeneratedToken("join-token")
        admin = GeneratedToken("admin-token")
        server = spec.server
        extra = {"api_base_url": api_base_url} if api_base_url else {}
        instance = LambdaGpuPool(
            "k3s-server",
            pool_name=server.name,
            instance_type=server.instance_type,
            region=server.region,
            ssh_key_names=list(server.ssh_key_names),
            file_system_names=list(server.file_system_names),
            desired_nodes=1,
            name_prefix=server.name,
            api_key=config.require_secret(API_KEY_CONFIG),
            user_data=render_cloud_config(spec, server),
            join_token=join.value,
            admin_token=admin.value,
            **extra,
        )
        url = instance.instance_ips.apply(lambda ips: f"https://{ips[0]}:{spec.api_port}" if ips and ips[0] else "")
        kubeconfig = K3sKubeconfig("kubeconfig", cluster_name=spec.name, server_url=url, admin_token=admin.value)
        pulumi.export(SERVER_URL_OUTPUT, url)
        pulumi.export(KUBECONFIG_OUTPUT, pulumi.Output.secret(kubeconfig.kubeconfig))
        pulumi.export(JOIN_TOKEN_OUTPUT, pulumi.Output.secret(join.value))
        pulumi.export("serverInstanceIds", instance.instance_ids)

    return program
