"""Rules for the cluster spec and the cloud-config each pool boots with (pure; part of `spec_valid`)."""

from __future__ import annotations

import re

import yaml

from infra_assets.specs.cloud_init import (
    CLOUD_CONFIG_HEADER,
    K3S_CONFIG_PATH,
    USER_DATA_MAX_BYTES,
    render_cloud_config,
)
from infra_assets.specs.cluster import GPU_TAINT, TOKEN_PLACEHOLDER, ClusterPool, ClusterSpec
from infra_assets.specs.pools import COMPONENT_LABEL, WORKLOAD_TYPE_LABEL
from infra_assets.specs.validation import Finding, ValidationReport

_K3S_VERSION = re.compile(r"^v\d+\.\d+\.\d+\+k3s\d+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _pool_findings(cluster: ClusterSpec, pool: ClusterPool) -> list[Finding]:
    f: list[Finding] = []
    s = pool.name
    if not 0 <= pool.min_nodes <= pool.desired_nodes <= pool.max_nodes:
        f.append(Finding("nodes_in_bounds", s, "need 0 <= min <= desired <= max"))
    for label in (WORKLOAD_TYPE_LABEL, COMPONENT_LABEL):
        if not pool.labels.get(label):
            f.append(Finding("labels", s, f"every pool needs the {label} label"))
    if pool.gpu and GPU_TAINT not in pool.taints:
        f.append(Finding("taints", s, f"a GPU pool must carry the taint {GPU_TAINT}"))
    text = render_cloud_config(cluster, pool)
    if not text.startswith(CLOUD_CONFIG_HEADER + "\n") or len(text.encode()) > USER_DATA_MAX_BYTES:
        f.append(Finding("cloud_config", s, f"user_data must start with {CLOUD_CONFIG_HEADER} and fit Lambda's limit"))
    files = {w["path"]: w["content"] for w in yaml.safe_load(text).get("write_files", [])}
    config = yaml.safe_load(files.get(K3S_CONFIG_PATH, "")) or {}
    if config.get("token") != TOKEN_PLACEHOLDER:
        f.append(Finding("secret_literal", s, "the join token must be the placeholder the provider fills at launch"))
    missing = [k for k, v in pool.node_labels.items() if f"{k}={v}" not in config.get("node-label", [])]
    if missing:
        f.append(Finding("labels", s, f"cloud-config does not register labels {', '.join(missing)}"))
    if config.get("node-taint", []) != [str(t) for t in pool.taints]:
        f.append(Finding("taints", s, "cloud-config does not register the pool's taints"))
    if cluster.k3s_sha256 not in text or cluster.k3s_binary_url not in text:
        f.append(Finding("k3s_pinned", s, "cloud-config must download the pinned k3s and check its sha256"))
    return f


def validate_cluster(cluster: ClusterSpec) -> ValidationReport:
    """k3s pinned by version and checksum; every pool labelled, GPU pools tainted; each cloud-config sound."""
    f: list[Finding] = []
    if not _K3S_VERSION.match(cluster.k3s_version):
        f.append(Finding("k3s_pinned", cluster.name, "k3s version must be an exact release, e.g. v1.36.2+k3s1"))
    if not _SHA256.match(cluster.k3s_sha256):
        f.append(Finding("k3s_pinned", cluster.name, "k3s checksum must be a sha256 hex digest"))
    names = [p.name for p in cluster.pools]
    if len(set(names)) != len(names):
        f.append(Finding("pools", cluster.name, "pool names must be unique"))
    for pool in (cluster.server, *cluster.pools):
        f += _pool_findings(cluster, pool)
    return ValidationReport(
        cluster.name,
        tuple(f),
        {"pools": len(cluster.pools), "cloud_configs": len(cluster.pools) + 1},
    )
