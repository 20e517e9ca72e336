"""How the cluster stack gets the k3s server's kubeconfig back without SSH, and the tokens it generates.

The stack generates two secrets itself (`GeneratedToken`, a dynamic resource: `secrets.token_hex`, stored only as
secret outputs): the **join token** every node boots with, and an **admin token** the server's cloud-config puts in
a static token file (`--kube-apiserver-arg=token-auth-file`, user `sophia-admin` in group `system:masters`).

The kubeconfig needs the server's address (the instance's IP, a Lambda API output) and its cluster CA. The CA is
read from the server's `/cacerts` endpoint — the unauthenticated endpoint k3s serves so agents can fetch the CA
when they join — once the server answers (`K3sKubeconfig`, bounded wait). Like an agent joining with a short
token, this trusts the first answer from the address Lambda reported for the instance we just launched; the
kubeconfig then verifies TLS against that CA for every later call.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pulumi
import yaml
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from infra_assets.specs.cloud_init import ADMIN_USER

CA_PATH = "/cacerts"
DEFAULT_CA_TIMEOUT_S = 900.0  # a fresh instance boots, downloads k3s and starts the API server within minutes
CA_POLL_S = 10.0


class ClusterCaUnavailable(Exception):
    """The k3s server did not serve its CA within the bounded wait."""


def fetch_cluster_ca(
    server_url: str,
    *,
    timeout_s: float = DEFAULT_CA_TIMEOUT_S,
    poll_s: float = CA_POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """The PEM CA bundle the k3s server at `server_url` serves at `/cacerts` (retried until `timeout_s`)."""
    deadline = clock() + timeout_s
    last = "no answer"
    with httpx.Client(verify=False, timeout=10.0, transport=transport) as http:  # first contact: see the module doc
        while True:
            try:
                response = http.get(server_url.rstrip("/") + CA_PATH)
                if response.status_code == 200 and "BEGIN CERTIFICATE" in response.text:
                    return response.text
                last = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            if clock() >= deadline:
                raise ClusterCaUnavailable(
                    f"the k3s server at {server_url} did not serve its CA ({CA_PATH}) within {timeout_s:.0f}s "
                    f"(last: {last}); check the instance's cloud-init log (/var/log/cloud-init-output.log)"
                )
            sleep(poll_s)


def build_kubeconfig(cluster_name: str, server_url: str, ca_pem: str, token: str) -> str:
    """A kubeconfig document for `cluster_name` authenticating as the admin token's user."""
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": ADMIN_USER}}],
        "current-context": cluster_name,
    }
    return yaml.safe_dump(document, sort_keys=False)


class _TokenProvider(ResourceProvider):
    """Generates a random token once (replaced only when `length` changes)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        length = int(props.get("length") or 32)
        return CreateResult(f"token-{secrets.token_hex(4)}", {"length": length, "value": secrets.token_hex(length)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = int(olds.get("length") or 32) != int(news.get("length") or 32)
        return DiffResult(changes=changed, replaces=["length"] if changed else [])


class GeneratedToken(pulumi.dynamic.Resource, module="sophia", name="GeneratedToken"):
    """A random hex token kept only as a secret output (`value`)."""

    value: pulumi.Output[str]

    def __init__(self, name: str, *, length: int = 32, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["value"]))
        super().__init__(_TokenProvider(), name, {"length": length, "value": None}, opts)


class _KubeconfigProvider(ResourceProvider):
    """Reads the server's CA (bounded wait) and builds the kubeconfig; refreshed when the server changes."""

    def _build(self, props: dict[str, Any]) -> dict[str, Any]:
        url = str(props["server_url"])
        ca = fetch_cluster_ca(url, timeout_s=float(props.get("ca_timeout_s") or DEFAULT_CA_TIMEOUT_S))
        kubeconfig = build_kubeconfig(str(props["cluster_name"]), url, ca, str(props["admin_token"]))
        return {"cluster_name": props["cluster_name"], "server_url": url, "kubeconfig": kubeconfig}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"kubeconfig-{props['cluster_name']}", self._build(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in ("server_url", "cluster_name", "admin_token"))
        return DiffResult(changes=changed)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._build(news))


class K3sKubeconfig(pulumi.dynamic.Resource, module="sophia", name="K3sKubeconfig"):
    """The kubeconfig of a k3s server the stack launched (secret output `kubeconfig`)."""

    kubeconfig: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        cluster_name: pulumi.Input[str],
        server_url: pulumi.Input[str],
        admin_token: pulumi.Input[str],
        ca_timeout_s: float = DEFAULT_CA_TIMEOUT_S,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "cluster_name": cluster_name,
            "server_url": server_url,
            "admin_token": pulumi.Output.secret(admin_token),
            "ca_timeout_s": ca_timeout_s,
            "kubeconfig": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig", "admin_token"])
        super().__init__(_KubeconfigProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
