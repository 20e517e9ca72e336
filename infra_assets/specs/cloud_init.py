"""The `#cloud-config` each Lambda launch passes as `user_data`: install pinned k3s, verify it, join (pure).

One document per pool (agents) and one for the server. Each writes `/etc/rancher/k3s/config.yaml` (k3s reads its
flags from it: server URL, token, node name, labels, taints), writes an install script and runs it once:

1. download the pinned k3s binary, `sha256sum -c` it against the spec's checksum (a mismatch stops the boot),
2. install it and a systemd unit (`k3s server` / `k3s agent`) and start it.

GPU pools install the NVIDIA container toolkit and set `default-runtime: nvidia`, so pods get the GPU without a
RuntimeClass; the NVIDIA device plugin (deployed by the k8s stack) then advertises `nvidia.com/gpu`.

The token, the server URL, the node name and the admin token are placeholders (`specs/cluster.py`); the provider
fills them at launch, so what is rendered here is safe to write into plan files.
"""

from __future__ import annotations

from typing import Any

import yaml

from infra_assets.specs.cluster import (
    ADMIN_TOKEN_PLACEHOLDER,
    NODE_NAME_PLACEHOLDER,
    SERVER_URL_PLACEHOLDER,
    TOKEN_PLACEHOLDER,
    ClusterPool,
    ClusterSpec,
)

CLOUD_CONFIG_HEADER = "#cloud-config"
K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
INSTALL_SCRIPT_PATH = "/usr/local/lib/sophia/install-k3s.sh"
ADMIN_TOKENS_PATH = "/etc/rancher/k3s/sophia-admin-tokens.csv"
ADMIN_USER = "sophia-admin"
USER_DATA_MAX_BYTES = 1024 * 1024  # Lambda's launch API: user_data is plain text of at most 1 MiB

_UNIT = """[Unit]
Description=k3s {role} (Sophia AI)
Wants=network-online.target
After=network-online.target

[Service]
Type={type}
ExecStart=/usr/local/bin/k3s {role}
KillMode=process
Delegate=yes
LimitNOFILE=1048576
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
"""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so the rendered files read like the files they write."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _install_script(cluster: ClusterSpec, pool: ClusterPool) -> str:
    unit = _UNIT.format(role=pool.role, type="notify" if pool.role == "server" else "exec")
    service = "k3s" if pool.role == "server" else "k3s-agent"
    return "\n".join(
        [
            "#!/bin/sh",
            "# Installs the pinned k3s binary only if its sha256 matches, then starts it (idempotent).",
            "set -eu",
            "tmp=$(mktemp)",
            f"curl -fsSL --retry 5 --retry-delay 5 -o \"$tmp\" '{cluster.k3s_binary_url}'",
            f"echo '{cluster.k3s_sha256}  '\"$tmp\" | sha256sum -c -",
            'install -m 0755 "$tmp" /usr/local/bin/k3s && rm -f "$tmp"',
            f"cat > /etc/systemd/system/{service}.service <<'UNIT'",
            unit.rstrip("\n"),
            "UNIT",
            "systemctl daemon-reload",
            f"systemctl enable --now {service}.service",
            "",
        ]
    )


def k3s_config(cluster: ClusterSpec, pool: ClusterPool) -> dict[str, Any]:
    """The k3s config file of a node of `pool` (placeholders where secrets and launch-time values go)."""
    config: dict[str, Any] = {
        "token": TOKEN_PLACEHOLDER,
        "node-name": NODE_NAME_PLACEHOLDER,
        "node-label": [f"{k}={v}" for k, v in sorted(pool.node_labels.items())],
        "node-taint": [str(t) for t in pool.taints],
    }
    if pool.role == "server":
        config |= {
            "write-kubeconfig-mode": "0600",
            "disable": ["traefik", "servicelb"],
            "kube-apiserver-arg": [f"token-auth-file={ADMIN_TOKENS_PATH}"],
        }
    else:
        config["server"] = SERVER_URL_PLACEHOLDER
    if pool.gpu:
        config["default-runtime"] = "nvidia"
    return config


def render_cloud_config(cluster: ClusterSpec, pool: ClusterPool) -> str:
    """The `#cloud-config` user_data of one node of `pool` (the server when `pool.role == "server"`)."""
    files: list[dict[str, Any]] = [
        {
            "path": K3S_CONFIG_PATH,
            "permissions": "0600",
            "owner": "root:root",
            "content": yaml.safe_dump(k3s_config(cluster, pool), sort_keys=True),
        },
        {
            "path": INSTALL_SCRIPT_PATH,
            "permissions": "0755",
            "owner": "root:root",
            "content": _install_script(cluster, pool),
        },
    ]
    if pool.role == "server":  # the static admin token the stack's kubeconfig authenticates with
        files.append(
            {
                "path": ADMIN_TOKENS_PATH,
                "permissions": "0600",
                "owner": "root:root",
                "content": f'{ADMIN_TOKEN_PLACEHOLDER},{ADMIN_USER},{ADMIN_USER},"system:masters"\n',
            }
        )
    document: dict[str, Any] = {"write_files": files}
    if pool.gpu:
        document["packages"] = ["nvidia-container-toolkit"]
        document["package_update"] = True
    document["runcmd"] = [[INSTALL_SCRIPT_PATH]]
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1000)
    text = f"{CLOUD_CONFIG_HEADER}\n{body}"
    if len(text.encode()) > USER_DATA_MAX_BYTES:
        raise ValueError(
            f"cloud-config of {pool.name} is {len(text.encode())} bytes; Lambda allows {USER_DATA_MAX_BYTES}"
        )
    return text


def fill_user_data(template: str, *, token: str, server_url: str, node_name: str, admin_token: str = "") -> str:
    """The template with its placeholders filled at launch (the provider calls this; the result is secret)."""
    values = {
        TOKEN_PLACEHOLDER: token,
        SERVER_URL_PLACEHOLDER: server_url,
        NODE_NAME_PLACEHOLDER: node_name,
        ADMIN_TOKEN_PLACEHOLDER: admin_token,
    }
    for placeholder, value in values.items():
        if placeholder in template and not value:
            raise ValueError(f"user_data needs a value for {placeholder} (none given)")
        template = template.replace(placeholder, value)
    return template
