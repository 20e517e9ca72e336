"""`python -m infra_assets bootstrap`: every step in order, idempotent, the kubeconfig handed over as a 0600 file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, ClassVar

import pytest

import infra_assets.__main__ as cli
from resources.pulumi_stack import PulumiStackResource

KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: a, user: {token: BOOTSTRAP-SECRET-TOKEN-123}}]\n"
ACCESS_TOKEN = "pul-" + "9" * 40


class Result:
    def __init__(self, stack: str) -> None:
        self.stack_name, self.change_summary, self.outputs, self.secret_output_names = stack, {"same": 1}, {}, []


class RecordingPulumi(PulumiStackResource):
    """Records each `up` (stack and config keys); the cluster stack's outputs hold the kubeconfig once it is up."""

    ups: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def up(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        assert callable(program)
        RecordingPulumi.ups.append((stack_name, dict(config or {})))
        return Result(stack_name)

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        if stack_name.endswith("-cluster") and any(s == stack_name for s, _ in RecordingPulumi.ups):
            assert reveal_secrets
            return {"kubeconfig": KUBECONFIG, "joinToken": "jt"}
        return {}


@pytest.fixture
def pulumi(monkeypatch: pytest.MonkeyPatch) -> type[RecordingPulumi]:
    RecordingPulumi.ups = []
    monkeypatch.setattr(cli, "cli_available", lambda: True)
    monkeypatch.setattr(cli, "_pulumi_resource", lambda: RecordingPulumi(access_token=ACCESS_TOKEN))
    monkeypatch.setenv("LAMBDA_API_KEY", "secret_lambda_" + "b" * 32)
    return RecordingPulumi


def test_bootstrap_runs_every_step_in_order_and_hands_over_the_kubeconfig(
    pulumi: type[RecordingPulumi], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bootstrap", "--env", "production", "--out", str(tmp_path)]) == cli.EXIT_OK
    stacks = [s for s, _ in pulumi.ups]
    assert stacks == [
        "production-esc",
        "production-cluster",
        "production-gpu-pool",
        "production-data-intelligence-pool",
        "production-business-intelligence-pool",
        "production-k8s",
    ]
    kubeconfig = tmp_path / "production-cluster" / "kubeconfig"
    assert kubeconfig.read_text() == KUBECONFIG and stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    k8s_config = dict(pulumi.ups[-1][1])
    assert k8s_config["kubeconfig"].value == str(kubeconfig)
    assert k8s_config["pulumiAccessToken"].secret and k8s_config["pulumiAccessToken"].value == ACCESS_TOKEN
    assert k8s_config["data-intelligence-mcp_replicas"].value == "2"  # the brief's <workload>_replicas config
    printed = capsys.readouterr()
    assert "BOOTSTRAP-SECRET-TOKEN-123" not in printed.out + printed.err and ACCESS_TOKEN not in printed.out

    assert cli.main(["bootstrap", "--env", "production", "--out", str(tmp_path)]) == cli.EXIT_OK  # idempotent
    assert [s for s, _ in pulumi.ups][len(stacks) :] == stacks


def test_bootstrap_stops_at_the_first_failing_step(
    pulumi: type[RecordingPulumi], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LAMBDA_API_KEY")
    assert cli.main(["bootstrap", "--env", "production", "--out", str(tmp_path)]) == cli.EXIT_MISSING_CREDENTIALS
    assert [s for s, _ in pulumi.ups] == ["production-esc"]
    assert "bootstrap stopped at production-cluster" in capsys.readouterr().err
