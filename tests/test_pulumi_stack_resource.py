"""PulumiStackResource against a fake stack at the `_select_stack` seam, plus the real missing-CLI path."""

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg
import pulumi.automation as auto
import pytest

import resources.pulumi_stack as ps
from resources.pulumi_stack import (
    STACK_POOL_LIMIT,
    STACK_TAG,
    PulumiCliMissingError,
    PulumiStackError,
    PulumiStackResource,
    StackConfigValue,
    StackLockedError,
    StackRunResult,
    cli_available,
    stack_pool,
    stack_run_tags,
)

SECRET = "lambda-key-7f3a9c1e"  # a secret config value the fake engine also "leaks" into its output
TOKEN = "pul-0123456789abcdef"
PASSPHRASE = "correct horse battery staple"
SECRET_OUTPUT = "kubeconfig-contents-b8e2"  # a secret stack output
REAL_CLI = shutil.which("pulumi")
LOCKED_STDERR = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es)"


def program() -> None:
    """A stand-in inline program (never run: the fake stack doesn't execute it)."""


def command_error(cls: type[auto.CommandError], stderr: str) -> auto.CommandError:
    return cls(auto.CommandResult(stdout="", stderr=stderr, code=255))


class FakeStack:
    """Records calls, streams engine lines, returns real `pulumi.automation` result objects."""

    def __init__(
        self,
        name: str,
        lock_failures: int = 0,
        lock_error: Callable[[], Exception] | None = None,
        changes: dict[str, int] | None = None,
        fail_with: Exception | None = None,
    ) -> None:
        self.name = name
        self.calls: list[str] = []
        self.kwargs: dict[str, dict[str, Any]] = {}
        self.config: dict[str, auto.ConfigValue] = {}
        self.lock_failures = lock_failures
        self.lock_error = lock_error or (lambda: command_error(auto.ConcurrentUpdateError, LOCKED_STDERR))
        self.changes = changes if changes is not None else {"create": 2, "update": 1, "same": 3}
        self.fail_with = fail_with
        self.stack_outputs: dict[str, auto.OutputValue] = {
            "endpoint": auto.OutputValue("https://embed.sophia.example", secret=False),
            "node_count": auto.OutputValue(2, secret=False),
            "labels": auto.OutputValue({"team": "platform", "note": f"uses {SECRET}"}, secret=False),
            "kubeconfig": auto.OutputValue(SECRET_OUTPUT, secret=True),
        }

    def set_all_config(self, config: auto.ConfigMap, *, path: bool = False) -> None:
        self.calls.append("set_all_config")
        self.config = dict(config)

    def _act(self, action: str, kwargs: dict[str, Any]) -> None:
        self.calls.append(action)
        self.kwargs[action] = kwargs
        if self.lock_failures:
            self.lock_failures -= 1
            raise self.lock_error()
        if self.fail_with is not None:
            raise self.fail_with
        on_output = kwargs["on_output"]
        on_output(f"{action.capitalize()}ing (sophia-ai/{self.name}):")
        on_output(f"    + lambda:gpu:Node node-0 create (apiKey={SECRET})")
        on_output("Resources:\n    + 2 to create")

    def _summary(self) -> auto.UpdateSummary:
        return auto.UpdateSummary(
            kind="update",
            start_time=datetime(2026, 11, 25, 12, 0),
            message="",
            environment={},
            config={"sophia-ai:apiKey": {"value": SECRET, "secret": True}},
            result="succeeded",
            resource_changes=dict(self.changes),
        )

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        self._act("preview", kwargs)
        change_summary = {auto.OpType(k): n for k, n in self.changes.items()}  # the OpMap shape
        return auto.PreviewResult(stdout="preview done", stderr="", change_summary=change_summary)

    def up(self, **kwargs: Any) -> auto.UpResult:
        self._act("up", kwargs)
        return auto.UpResult(stdout="", stderr="", summary=self._summary(), outputs=dict(self.stack_outputs))

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        self._act("refresh", kwargs)
        return auto.RefreshResult(stdout="", stderr="", summary=self._summary())

    def outputs(self) -> auto.OutputMap:
        self.calls.append("outputs")
        return dict(self.stack_outputs)


def make_resource(stack: FakeStack, sleeps: list[float] | None = None, **fields: Any) -> PulumiStackResource:
    """A resource whose `_select_stack` returns `stack` and whose sleep only records."""
    recorded = sleeps if sleeps is not None else []

    class FakeBoundary(PulumiStackResource):
        def _select_stack(self, stack_name: str, program: Callable[[], None]) -> ps.StackLike:
            stack.calls.append(f"select:{stack_name}")
            assert program is not None
            return stack

        def _sleep(self, seconds: float) -> None:
            recorded.append(seconds)

    fields.setdefault("access_token", TOKEN)
    fields.setdefault("config_passphrase", PASSPHRASE)
    return FakeBoundary(**fields)


@pytest.fixture
def cli_present(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which

    def which(cmd: str, *args: Any, **kwargs: Any) -> str | None:
        return "/usr/local/bin/pulumi" if cmd == "pulumi" else real_which(cmd, *args, **kwargs)

    monkeypatch.setattr(shutil, "which", which)


CONFIG = {
    "sophia-ai:apiKey": StackConfigValue(SECRET, secret=True),
    "sophia-ai:region": StackConfigValue("us-west-1"),
}


def not_chained(exc: BaseException) -> bool:
    """No original (possibly secret-bearing) exception is attached to `exc`."""
    return exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


def everything_visible(result: StackRunResult, lines: list[str]) -> str:
    """Every string a person could see: the result, its repr, its metadata (rendered) and the log lines."""
    metadata = result.to_metadata()
    rendered = {k: getattr(v, "value", v) for k, v in metadata.items()}
    return "\n".join([repr(result), str(result), repr(metadata), json.dumps(rendered, default=str), *lines])


# ---------------------------------------------------------------- call order, config, outputs


@pytest.mark.usefixtures("cli_present")
@pytest.mark.parametrize("action", ["preview", "up", "refresh"])
def test_call_order_config_and_masked_outputs(action: str) -> None:
    stack = FakeStack("production-gpu-pool")
    lines: list[str] = []
    resource = make_resource(stack)

    result = getattr(resource, action)(
        stack_name="production-gpu-pool", program=program, config=CONFIG, on_output=lines.append
    )

    expected = ["select:production-gpu-pool", "set_all_config", action]
    assert stack.calls == (expected if action == "up" else [*expected, "outputs"])
    assert {k: (v.value, v.secret) for k, v in stack.config.items()} == {
        "sophia-ai:apiKey": (SECRET, True),
        "sophia-ai:region": ("us-west-1", False),
    }
    assert all(isinstance(v, auto.ConfigValue) for v in stack.config.values())
    assert stack.kwargs[action]["color"] == "never"

    assert result.stack_name == "production-gpu-pool"
    assert result.action == action
    assert result.change_summary == {"create": 2, "update": 1, "same": 3}
    assert result.has_changes is True
    assert result.outputs["kubeconfig"] == "[secret]"
    assert result.outputs["endpoint"] == "https://embed.sophia.example"
    assert result.outputs["node_count"] == 2
    assert result.outputs["labels"] == {"team": "platform", "note": "uses [secret]"}
    assert result.secret_output_names == ["kubeconfig"]

    # engine output is streamed line by line, with known secrets redacted
    assert lines[0].startswith(action.capitalize())
    assert "    + lambda:gpu:Node node-0 create (apiKey=[secret])" in lines
    visible = everything_visible(result, lines)
    for secret in (SECRET, SECRET_OUTPUT, TOKEN, PASSPHRASE):
        assert secret not in visible


@pytest.mark.usefixtures("cli_present")
def test_metadata_has_counts_per_change_kind_and_masked_outputs() -> None:
    stack = FakeStack("production-k8s", changes={"create": 1, "replace": 2, "same": 4, "read": 1})
    result = make_resource(stack).up(stack_name="production-k8s", program=program, config=CONFIG)
    metadata = result.to_metadata()

    assert metadata["stack"] == dg.MetadataValue.text("production-k8s")
    assert metadata["action"] == dg.MetadataValue.text("up")
    counts = {k: v.value for k, v in metadata.items() if k.startswith("changes_")}
    assert counts == {
        "changes_create": 1,
        "changes_update": 0,
        "changes_delete": 0,
        "changes_same": 4,
        "changes_replace": 2,
        "changes_read": 1,
    }
    assert all(isinstance(metadata[k], dg.IntMetadataValue) for k in counts)
    assert metadata["has_changes"] == dg.MetadataValue.bool(True)
    assert metadata["outputs"].value["kubeconfig"] == "[secret]"
    assert metadata["secret_outputs"].value == ["kubeconfig"]


@pytest.mark.usefixtures("cli_present")
def test_no_changes_when_only_same_and_read_steps() -> None:
    stack = FakeStack("production-esc", changes={"same": 5, "read": 2})
    result = make_resource(stack).preview(stack_name="production-esc", program=program)
    assert result.has_changes is False
    assert "set_all_config" not in stack.calls  # nothing to set


@pytest.mark.usefixtures("cli_present")
def test_outputs_masks_secrets_unless_revealed() -> None:
    stack = FakeStack("production-k8s")
    resource = make_resource(stack)
    masked = resource.outputs("production-k8s", program)
    assert masked["kubeconfig"] == "[secret]"
    assert masked["endpoint"] == "https://embed.sophia.example"
    assert stack.calls == ["select:production-k8s", "outputs"]
    assert resource.outputs("production-k8s", program, reveal_secrets=True)["kubeconfig"] == SECRET_OUTPUT


def test_secrets_stay_out_of_reprs() -> None:
    resource = PulumiStackResource(access_token=TOKEN, config_passphrase=PASSPHRASE)
    assert TOKEN not in repr(resource) and PASSPHRASE not in repr(resource) and TOKEN not in str(resource)
    assert SECRET not in repr(StackConfigValue(SECRET, secret=True))
    assert "us-west-1" in repr(StackConfigValue("us-west-1"))


@pytest.mark.usefixtures("cli_present")
def test_secrets_stay_out_of_a_dagster_run(tmp_path: Any) -> None:
    """Through a real materialization: nothing in the event log (logs, metadata) holds a secret."""
    stack = FakeStack("production-gpu-pool")

    @dg.asset(pool=stack_pool("production-gpu-pool"), tags=stack_run_tags("production-gpu-pool"))
    def gpu_pool(context: dg.AssetExecutionContext, pulumi: PulumiStackResource) -> dg.MaterializeResult:
        result = pulumi.up("production-gpu-pool", program, config=CONFIG, on_output=context.log.info)
        return dg.MaterializeResult(metadata=result.to_metadata())

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        outcome = dg.materialize([gpu_pool], resources={"pulumi": make_resource(stack)}, instance=instance)
        assert outcome.success
        records = instance.get_records_for_run(outcome.run_id).records
        dump = "\n".join(repr(r.event_log_entry) for r in records)
    assert "lambda:gpu:Node node-0 create (apiKey=[secret])" in dump
    materialization = outcome.asset_materializations_for_node("gpu_pool")[0]
    assert materialization.metadata["changes_create"] == dg.MetadataValue.int(2)
    for secret in (SECRET, SECRET_OUTPUT, TOKEN, PASSPHRASE):
        assert secret not in dump


# ---------------------------------------------------------------- lock conflicts


@pytest.mark.usefixtures("cli_present")
def test_lock_conflict_retried_then_stack_locked_error() -> None:
    stack = FakeStack("production-esc", lock_failures=99)
    sleeps: list[float] = []
    lines: list[str] = []
    resource = make_resource(stack, sleeps, lock_retry_attempts=3, lock_retry_wait_s=5.0)

    with pytest.raises(StackLockedError) as info:
        resource.up(stack_name="production-esc", program=program, config=CONFIG, on_output=lines.append)

    assert stack.calls.count("up") == 4  # the first try and 3 retries
    assert sleeps == [5.0, 10.0, 15.0]
    message = str(info.value)
    assert "'production-esc'" in message and "pulumi cancel" in message and "pulumi/production-esc" in message
    assert info.value.stack_name == "production-esc" and info.value.attempts == 4
    assert not_chained(info.value)
    assert sum("is locked by another update; retry" in line for line in lines) == 3


@pytest.mark.usefixtures("cli_present")
def test_success_after_one_conflict_detected_by_engine_message() -> None:
    # a plain CommandError carrying the DIY backend's lock message is recognised as well
    plain_lock_error = lambda: command_error(auto.CommandError, LOCKED_STDERR)  # noqa: E731
    stack = FakeStack("dev-k8s", lock_failures=1, lock_error=plain_lock_error)
    sleeps: list[float] = []
    resource = make_resource(stack, sleeps, lock_retry_wait_s=0.5)
    result = resource.preview(stack_name="dev-k8s", program=program)
    assert stack.calls == ["select:dev-k8s", "preview", "preview", "outputs"]
    assert sleeps == [0.5]
    assert result.change_summary["create"] == 2


@pytest.mark.usefixtures("cli_present")
def test_other_command_errors_are_redacted_and_not_retried() -> None:
    error = command_error(auto.CommandError, f"error: provider rejected apiKey {SECRET} (token {TOKEN})")
    stack = FakeStack("dev-gpu-pool", fail_with=error)
    sleeps: list[float] = []
    with pytest.raises(PulumiStackError) as info:
        make_resource(stack, sleeps).up(stack_name="dev-gpu-pool", program=program, config=CONFIG)
    assert stack.calls.count("up") == 1 and sleeps == []
    assert "pulumi up of stack 'dev-gpu-pool' failed (CommandError)" in str(info.value)
    assert SECRET not in str(info.value) and TOKEN not in str(info.value)
    assert not_chained(info.value)


# ---------------------------------------------------------------- missing CLI


def test_missing_cli_raises_before_touching_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)
    stack = FakeStack("production-esc")
    assert cli_available() is False
    with pytest.raises(PulumiCliMissingError) as info:
        make_resource(stack).preview(stack_name="production-esc", program=program)
    assert stack.calls == []
    assert "curl -fsSL https://get.pulumi.com | sh" in str(info.value)
    assert "SOPHIA_INFRA_MODE=plan" in str(info.value)


@pytest.mark.usefixtures("cli_present")
def test_file_not_found_for_pulumi_from_the_workspace_means_missing_cli() -> None:
    class VanishingCli(PulumiStackResource):
        def _select_stack(self, stack_name: str, program: Callable[[], None]) -> ps.StackLike:
            raise FileNotFoundError(2, "No such file or directory", "pulumi")

    assert cli_available() is True
    with pytest.raises(PulumiCliMissingError):
        VanishingCli().up(stack_name="production-esc", program=program)


@pytest.mark.usefixtures("cli_present")
def test_other_file_not_found_errors_propagate() -> None:
    class MissingFile(PulumiStackResource):
        def _select_stack(self, stack_name: str, program: Callable[[], None]) -> ps.StackLike:
            raise FileNotFoundError(2, "No such file or directory", "/nowhere/Pulumi.yaml")

    with pytest.raises(FileNotFoundError):
        MissingFile().up(stack_name="production-esc", program=program)


@pytest.mark.skipif(REAL_CLI is not None, reason="a real pulumi CLI is installed here")
def test_real_automation_api_without_cli_raises_cli_missing(tmp_path: Any) -> None:
    resource = PulumiStackResource(backend_url=f"file://{tmp_path / 'state'}", work_dir=str(tmp_path / "ws"))
    assert cli_available() is False
    with pytest.raises(PulumiCliMissingError) as info:
        resource.preview(stack_name="dev-esc", program=program, config=CONFIG)
    assert "get.pulumi.com" in str(info.value)


@pytest.mark.skipif(REAL_CLI is not None, reason="a real pulumi CLI is installed here")
@pytest.mark.usefixtures("cli_present")
def test_real_select_stack_file_not_found_becomes_cli_missing(tmp_path: Any) -> None:
    """`shutil.which` lies; the real `create_or_select_stack` then fails to exec `pulumi`."""
    resource = PulumiStackResource(backend_url=f"file://{tmp_path / 'state'}", work_dir=str(tmp_path / "ws"))
    with pytest.raises(FileNotFoundError):  # what the Automation API itself raises here
        auto.create_or_select_stack(
            "dev-esc",
            project_name="sophia-ai",
            program=program,
            opts=auto.LocalWorkspaceOptions(work_dir=str(tmp_path)),
        )
    with pytest.raises(PulumiCliMissingError) as info:
        resource.preview(stack_name="dev-esc", program=program, config=CONFIG)
    assert not_chained(info.value)


# ---------------------------------------------------------------- workspace options


@pytest.mark.usefixtures("cli_present")
def test_backend_secrets_provider_and_env_reach_the_workspace(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    captured: dict[str, Any] = {}
    stack = FakeStack("production-k8s")

    def fake_create_or_select(**kwargs: Any) -> FakeStack:
        captured.update(kwargs)
        return stack

    monkeypatch.setattr(ps.auto, "create_or_select_stack", fake_create_or_select)
    resource = PulumiStackResource(
        project_name="sophia-ai",
        backend_url="s3://sophia-pulumi-state",
        secrets_provider="awskms://alias/sophia-pulumi",
        access_token=TOKEN,
        config_passphrase=PASSPHRASE,
        work_dir=str(tmp_path / "ws"),
    )
    resource.up(stack_name="production-k8s", program=program)

    assert captured["stack_name"] == "production-k8s"
    assert captured["project_name"] == "sophia-ai"
    assert captured["program"] is program
    opts: auto.LocalWorkspaceOptions = captured["opts"]
    assert opts.project_settings is not None and opts.project_settings.name == "sophia-ai"
    assert opts.project_settings.runtime == "python"
    assert opts.project_settings.backend is not None
    assert opts.project_settings.backend.url == "s3://sophia-pulumi-state"
    assert opts.secrets_provider == "awskms://alias/sophia-pulumi"
    assert opts.env_vars is not None
    assert opts.env_vars["PULUMI_ACCESS_TOKEN"] == TOKEN
    assert opts.env_vars["PULUMI_CONFIG_PASSPHRASE"] == PASSPHRASE
    assert opts.work_dir == str(tmp_path / "ws") and (tmp_path / "ws").is_dir()
    assert TOKEN not in repr(opts)


def test_pulumi_cloud_defaults_leave_backend_and_credentials_unset() -> None:
    opts = PulumiStackResource().workspace_options()
    assert opts.project_settings is not None and opts.project_settings.backend is None
    assert opts.secrets_provider is None and opts.work_dir is None
    assert opts.env_vars == {"PULUMI_SKIP_UPDATE_CHECK": "true"}


# ---------------------------------------------------------------- pools and tags


def test_stack_pool_is_a_valid_dagster_pool() -> None:
    assert stack_pool("production-esc") == "pulumi/production-esc"
    assert STACK_POOL_LIMIT == 1

    @dg.asset(pool=stack_pool("production-esc"))
    def esc() -> None: ...

    assert esc.op.pool == "pulumi/production-esc"
    for bad in ("", "prod esc"):
        with pytest.raises(ValueError):
            stack_pool(bad)


TAG_CASES = [("production-esc", "production-esc"), ("sophia/sophia-ai/dev-k8s", "sophia.sophia-ai.dev-k8s")]


@pytest.mark.parametrize(("stack", "value"), TAG_CASES)
def test_stack_run_tags_pass_dagster_strict_tag_rules(stack: str, value: str) -> None:
    tags = stack_run_tags(stack)
    assert tags == {STACK_TAG: value}

    @dg.asset(tags=tags)  # asset tags are validated strictly (values: [A-Za-z0-9_.-], <= 63 chars)
    def tagged() -> None: ...

    assert tagged.specs_by_key[tagged.key].tags == tags
    dg.define_asset_job("infra_job", tags=tags)
