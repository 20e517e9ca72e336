"""The cluster's specs and the `#cloud-config` each launch passes: schema-valid, pinned, labelled, no secrets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra_assets.specs import build_infra_specs
from infra_assets.specs.cloud_init import K3S_CONFIG_PATH, fill_user_data, render_cloud_config
from infra_assets.specs.cluster import (
    K3S_SHA256_AMD64,
    K3S_VERSION,
    PLACEHOLDERS,
    TOKEN_PLACEHOLDER,
    ClusterSpec,
    build_cluster_spec,
)
from resources.profile import profile


def _cluster(env: str = "production") -> ClusterSpec:
    specs = build_infra_specs(profile(env))
    return build_cluster_spec(env, specs.gpu_pool, specs.node_pools)


def _cloud_init() -> str:
    """The cloud-init CLI (Debian package `cloud-init`), installed on demand; fails saying why if impossible."""
    found = shutil.which("cloud-init")
    if found is None and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "cloud-init"], capture_output=True, timeout=600)
        found = shutil.which("cloud-init")
    if found is None:
        pytest.fail("cloud-init's schema validator is not installed and `apt-get install cloud-init` did not work")
    return found


def _files(text: str) -> dict[str, str]:
    return {f["path"]: f["content"] for f in yaml.safe_load(text)["write_files"]}


def test_production_cluster_has_the_briefs_three_pools() -> None:
    cluster = _cluster()
    shapes = {(p.name, p.instance_type, p.min_nodes, p.max_nodes) for p in cluster.pools}
    assert cluster.name == "sophia-ai-production" and cluster.owns_server
    assert shapes == {
        ("ai-intelligence-pool", "gpu_1x_a10", 1, 3),
        ("data-intelligence-pool", "cpu_4x_large", 1, 2),
        ("business-intelligence-pool", "cpu_8x_large", 1, 2),
    }
    labels = {p.name: (p.labels["workload-type"], p.labels["sophia-component"]) for p in cluster.pools}
    assert labels == {
        "ai-intelligence-pool": ("ai-intelligence", "ai-services"),
        "data-intelligence-pool": ("data-intelligence", "data-services"),
        "business-intelligence-pool": ("business-intelligence", "analytics"),
    }
    assert [str(t) for t in cluster.pool("ai-intelligence-pool").taints] == ["nvidia.com/gpu=present:NoSchedule"]
    assert not cluster.pool("data-intelligence-pool").taints


@pytest.mark.parametrize(
    "pool", ["server", "ai-intelligence-pool", "data-intelligence-pool", "business-intelligence-pool"]
)
def test_cloud_config_is_schema_valid_pinned_labelled_and_secret_free(pool: str, tmp_path: Path) -> None:
    cluster = _cluster()
    spec = cluster.server if pool == "server" else cluster.pool(pool)
    text = render_cloud_config(cluster, spec)
    path = tmp_path / "user-data.yaml"
    path.write_text(text)
    result = subprocess.run([_cloud_init(), "schema", "--config-file", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert text.startswith("#cloud-config\n")

    files = _files(text)
    config = yaml.safe_load(files[K3S_CONFIG_PATH])
    assert config["token"] == TOKEN_PLACEHOLDER  # never a literal token: the provider fills it at launch
    assert f"sophia.ai/pool={spec.name}" in config["node-label"]
    for key, value in spec.labels.items():
        assert f"{key}={value}" in config["node-label"]
    assert config["node-taint"] == [str(t) for t in spec.taints]
    script = files["/usr/local/lib/sophia/install-k3s.sh"]
    assert K3S_VERSION.replace("+", "%2B") in script and f"echo '{K3S_SHA256_AMD64}  '" in script
    assert "sha256sum -c -" in script.split("install -m 0755")[0]  # checked before it is installed
    assert ("k3s server" in script) == (pool == "server") and ("server" in config) == (pool != "server")
    assert (config.get("default-runtime") == "nvidia") == (pool == "ai-intelligence-pool")


def test_filling_the_placeholders_leaves_none_and_requires_each() -> None:
    cluster = _cluster()
    template = render_cloud_config(cluster, cluster.pool("data-intelligence-pool"))
    filled = fill_user_data(template, token="t0k3n", server_url="https://10.0.0.1:6443", node_name="data-001")
    assert not any(p in filled for p in PLACEHOLDERS)
    config = yaml.safe_load(_files(filled)[K3S_CONFIG_PATH])
    assert (config["token"], config["server"], config["node-name"]) == ("t0k3n", "https://10.0.0.1:6443", "data-001")
    with pytest.raises(ValueError, match=TOKEN_PLACEHOLDER):
        fill_user_data(template, token="", server_url="https://10.0.0.1:6443", node_name="n")


def test_cluster_source_is_one_setting() -> None:
    specs = build_infra_specs(profile("production"))
    existing = build_cluster_spec("production", specs.gpu_pool, specs.node_pools, source="kubeconfig")
    assert not existing.owns_server
    with pytest.raises(ValueError, match="SOPHIA_CLUSTER_SOURCE"):
        build_cluster_spec("production", specs.gpu_pool, specs.node_pools, source="eks")
