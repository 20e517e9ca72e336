"""`PulumiStackResource`: preview / up / refresh Pulumi stacks through the Automation API.

Every call selects (or creates) the stack with an inline program, sets its config (secret flags honoured),
runs the action and returns a `StackRunResult` whose secret outputs are already masked. The Automation API
drives the `pulumi` CLI: without it every call raises `PulumiCliMissingError` (use plan mode instead).
Lock conflicts are retried, then raised as `StackLockedError`. Secrets (access token, passphrase, secret
config values) never reach logs, exceptions, reprs or metadata: engine output lines and error messages are
redacted, and secret outputs are replaced by `[secret]`.

Concurrency: each stack has one Dagster pool (`stack_pool`); assets put `pool=stack_pool(stack)` and the
instance limits every pool to `STACK_POOL_LIMIT` (dagster.yaml `concurrency: pools: default_limit: 1`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import pulumi.automation as auto
from pydantic import Field

SECRET_MASK = "[secret]"
STACK_POOL_LIMIT = 1
POOL_PREFIX = "pulumi/"
STACK_TAG = "sophia/pulumi-stack"
CHANGE_KINDS = ("create", "update", "delete", "same", "replace")
# Pulumi's own ResourceChanges.HasChanges() ignores these step kinds.
NO_CHANGE_KINDS = frozenset({"same", "read", "read-discard", "read-replacement"})
LOCK_MARKERS = ("the stack is currently locked", "[409] Conflict", "Another update is currently in progress")
INSTALL_HINT = (
    "Install the Pulumi CLI (`curl -fsSL https://get.pulumi.com | sh`, then put ~/.pulumi/bin on PATH; "
    "see https://www.pulumi.com/docs/install/) or run the infra assets in plan mode (SOPHIA_INFRA_MODE=plan)."
)
ACTIONS = ("preview", "up", "refresh")

OnOutput = Callable[[str], Any]


class PulumiCliMissingError(RuntimeError):
    """The `pulumi` CLI, which the Automation API drives, is not installed."""

    def __init__(self) -> None:
        super().__init__(f"The Pulumi CLI (`pulumi`) was not found on PATH. {INSTALL_HINT}")


class StackLockedError(RuntimeError):
    """The stack stayed locked by another update through every retry."""

    def __init__(self, stack_name: str, attempts: int) -> None:
        self.stack_name = stack_name
        self.attempts = attempts
        super().__init__(
            f"Pulumi stack {stack_name!r} is locked by another update (still locked after "
            f"{attempts} attempts). Wait for that update to finish, or check the Dagster run "
            f"holding pool {stack_pool(stack_name)!r}. "
            f"If nothing is really updating it (a crashed run left the lock): on Pulumi Cloud run "
            f"`pulumi cancel --stack {stack_name}`; on a DIY backend delete the stale lock under "
            f"`.pulumi/locks/` in the state bucket/directory."
        )


class PulumiStackError(RuntimeError):
    """A Pulumi command failed; the message is redacted and names the stack, the action and the error kind."""

    def __init__(self, stack_name: str, action: str, kind: str, message: str) -> None:
        self.stack_name = stack_name
        self.action = action
        self.kind = kind
        super().__init__(f"pulumi {action} of stack {stack_name!r} failed ({kind}): {message}")


@dataclass(frozen=True, slots=True)
class StackConfigValue:
    """One stack config value; `secret=True` stores it encrypted and keeps it out of every repr."""

    value: str
    secret: bool = False

    def __repr__(self) -> str:
        shown = SECRET_MASK if self.secret else repr(self.value)
        return f"StackConfigValue(value={shown}, secret={self.secret})"


@dataclass(frozen=True)
class StackRunResult:
    """The outcome of one stack action; `outputs` has every secret output replaced by `[secret]`."""

    stack_name: str
    action: str
    change_summary: dict[str, int]
    has_changes: bool
    outputs: dict[str, Any]
    secret_output_names: list[str] = field(default_factory=list)

    def to_metadata(self) -> dict[str, dg.MetadataValue]:
        """Stack, action, `changes_<kind>` counts, `has_changes` and the (masked) outputs as JSON."""
        metadata: dict[str, dg.MetadataValue] = {
            "stack": dg.MetadataValue.text(self.stack_name),
            "action": dg.MetadataValue.text(self.action),
        }
        for kind in sorted({*CHANGE_KINDS, *self.change_summary}):
            metadata[f"changes_{kind}"] = dg.MetadataValue.int(self.change_summary.get(kind, 0))
        metadata["has_changes"] = dg.MetadataValue.bool(self.has_changes)
        metadata["outputs"] = dg.MetadataValue.json(self.outputs)
        metadata["secret_outputs"] = dg.MetadataValue.json(self.secret_output_names)
        return metadata


class StackLike(Protocol):
    """The part of `pulumi.automation.Stack` this resource uses (the test seam)."""

    name: str

    def set_all_config(self, config: auto.ConfigMap) -> None: ...
    def preview(
        self,
        *,
        on_output: OnOutput | None = None,
        color: str | None = None,
    ) -> auto.PreviewResult: ...
    def up(
        self, *, on_output: OnOutput | None = None, color: str | None = None, show_secrets: bool = True
    ) -> auto.UpResult: ...
    def refresh(
        self, *, on_output: OnOutput | None = None, color: str | None = None, show_secrets: bool = True
    ) -> auto.RefreshResult: ...
    def outputs(self) -> auto.OutputMap: ...


def cli_available() -> bool:
    """True when the `pulumi` CLI is on PATH (the Automation API runs `pulumi` from PATH)."""
    return shutil.which("pulumi") is not None


def stack_pool(stack_name: str) -> str:
    """The Dagster concurrency pool of a stack, e.g. `pulumi/production-esc` (pool names: no whitespace)."""
    if not stack_name or any(c.isspace() for c in stack_name):
        raise ValueError(f"invalid Pulumi stack name {stack_name!r}: empty or contains whitespace")
    return f"{POOL_PREFIX}{stack_name}"


def stack_run_tags(stack_name: str) -> dict[str, str]:
    """Run/asset tags that make a stack's runs searchable; the value obeys Dagster's strict tag rules."""
    value = "".join(c if c.isalnum() or c in "_.-" else "." for c in stack_name)[-63:]
    return {STACK_TAG: value}


def redactor(secrets: Iterable[str | None]) -> Callable[[str], str]:
    """A function replacing every known secret value in a string with `[secret]`."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in known:
            text = text.replace(secret, SECRET_MASK)
        return text

    return redact


def _redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    """A JSON-safe copy of an output value with known secrets redacted inside its strings."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, redact) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(json.dumps(value, default=str))


def mask_outputs(
    outputs: Mapping[str, Any] | None, redact: Callable[[str], str] = str
) -> tuple[dict[str, Any], list[str]]:
    """(outputs with secret ones replaced by `[secret]`, sorted secret output names)."""
    masked: dict[str, Any] = {}
    secret_names: list[str] = []
    for name, raw in (outputs or {}).items():
        if getattr(raw, "secret", False):
            masked[name] = SECRET_MASK
            secret_names.append(name)
        else:
            masked[name] = _redact_value(getattr(raw, "value", raw), redact)
    return masked, sorted(secret_names)


def change_counts(change_summary: Mapping[Any, Any] | None) -> dict[str, int]:
    """Step-kind counts keyed by plain strings (the engine gives `OpType` or str keys)."""
    return {str(getattr(kind, "value", kind)): int(n) for kind, n in (change_summary or {}).items()}


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, auto.ConcurrentUpdateError) or any(m in str(exc) for m in LOCK_MARKERS)


class PulumiStackResource(dg.ConfigurableResource):
    """Runs Pulumi stacks of one project with inline programs through the Automation API."""

    project_name: str = Field(default="sophia-ai", description="Pulumi project of every stack.")
    backend_url: str | None = Field(
        default=None, description="State backend: None = Pulumi Cloud, or file:///abs/path, s3://bucket, ..."
    )
    secrets_provider: str | None = Field(default=None, description="e.g. passphrase, awskms://...")
    access_token: str | None = Field(default=None, repr=False, description="PULUMI_ACCESS_TOKEN.")
    config_passphrase: str | None = Field(default=None, repr=False, description="PULUMI_CONFIG_PASSPHRASE.")
    work_dir: str | None = Field(
        default=None,
        description="Workspace directory (Pulumi.yaml, Pulumi.<stack>.yaml); None = a fresh temp dir. "
        "Keep one for passphrase/KMS providers so the stack's encryption settings persist.",
    )
    lock_retry_attempts: int = Field(default=3, description="Retries after a lock conflict.")
    lock_retry_wait_s: float = Field(default=5.0, description="Backoff: the n-th retry waits n times this.")

    # ------------------------------------------------------------------ public API

    def preview(
        self,
        stack_name: str,
        program: Callable[[], None],
        config: Mapping[str, StackConfigValue] | None = None,
        on_output: OnOutput | None = None,
    ) -> StackRunResult:
        """Dry-run the program against the stack; outputs are the stack's current (last update's) ones."""
        return self._run("preview", stack_name, program, config, on_output)

    def up(
        self,
        stack_name: str,
        program: Callable[[], None],
        config: Mapping[str, StackConfigValue] | None = None,
        on_output: OnOutput | None = None,
    ) -> StackRunResult:
        """Create or update the stack's resources; outputs are the new ones."""
        return self._run("up", stack_name, program, config, on_output)

    def refresh(
        self,
        stack_name: str,
        program: Callable[[], None],
        config: Mapping[str, StackConfigValue] | None = None,
        on_output: OnOutput | None = None,
    ) -> StackRunResult:
        """Adopt the real state of the stack's resources (drift shows as `update` counts)."""
        return self._run("refresh", stack_name, program, config, on_output)

    def outputs(
        self,
        stack_name: str,
        program: Callable[[], None],
        *,
        reveal_secrets: bool = False,
    ) -> dict[str, Any]:
        """The stack's current outputs; secret ones masked unless `reveal_secrets` (never log those)."""
        redact = redactor(self._known_secrets({}))
        stack = self._open(stack_name, program, "outputs", redact)
        raw = self._guard(stack_name, "outputs", stack.outputs, redact)
        if reveal_secrets:
            return {name: getattr(v, "value", v) for name, v in raw.items()}
        return mask_outputs(raw, redact)[0]

    def workspace_options(self) -> auto.LocalWorkspaceOptions:
        """Project settings (python runtime, backend), secrets provider, env vars and work dir."""
        backend = auto.ProjectBackend(url=self.backend_url) if self.backend_url else None
        env_vars = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
        if self.access_token:
            env_vars["PULUMI_ACCESS_TOKEN"] = self.access_token
        if self.config_passphrase:
            env_vars["PULUMI_CONFIG_PASSPHRASE"] = self.config_passphrase
        return auto.LocalWorkspaceOptions(
            work_dir=self.work_dir,
            env_vars=env_vars,
            secrets_provider=self.secrets_provider,
            project_settings=auto.ProjectSettings(name=self.project_name, runtime="python", backend=backend),
        )

    # ------------------------------------------------------------------ seams (overridden in tests)

    def _select_stack(self, stack_name: str, program: Callable[[], None]) -> StackLike:
        """Create or select the stack in a LocalWorkspace (the one place the Automation API is entered)."""
        if self.work_dir:
            Path(self.work_dir).mkdir(parents=True, exist_ok=True)
        return auto.create_or_select_stack(
            stack_name=stack_name,
            project_name=self.project_name,
            program=program,
            opts=self.workspace_options(),
        )

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    # ------------------------------------------------------------------ internals

    def _known_secrets(self, config: Mapping[str, StackConfigValue]) -> list[str | None]:
        return [self.access_token, self.config_passphrase, *(v.value for v in config.values() if v.secret)]

    def _open(
        self, stack_name: str, program: Callable[[], None], action: str, redact: Callable[[str], str]
    ) -> StackLike:
        """Check for the CLI, then select the stack (a FileNotFoundError for `pulumi` means no CLI)."""
        if not cli_available():
            raise PulumiCliMissingError()
        try:
            return self._guard(stack_name, action, lambda: self._select_stack(stack_name, program), redact)
        except FileNotFoundError as exc:
            if Path(str(exc.filename or "")).name == "pulumi":
                raise PulumiCliMissingError() from None
            raise

    def _guard(
        self,
        stack_name: str,
        action: str,
        fn: Callable[[], Any],
        redact: Callable[[str], str],
        pass_locks: bool = False,
    ) -> Any:
        """Run `fn`; a failed Pulumi command becomes a redacted `PulumiStackError` (no chained cause).

        Lock conflicts are re-raised as they are with `pass_locks` (the retry loop), else `StackLockedError`.
        """
        try:
            return fn()
        except auto.CommandError as exc:
            if _is_lock_conflict(exc):
                if pass_locks:
                    raise
                raise StackLockedError(stack_name, attempts=1) from None
            kind = getattr(exc, "name", type(exc).__name__)
            raise PulumiStackError(stack_name, action, kind, redact(str(exc)).strip()[:4000]) from None

    def _run(
        self,
        action: str,
        stack_name: str,
        program: Callable[[], None],
        config: Mapping[str, StackConfigValue] | None,
        on_output: OnOutput | None,
    ) -> StackRunResult:
        if action not in ACTIONS:
            raise ValueError(f"unknown stack action {action!r}")
        config = dict(config or {})
        redact = redactor(self._known_secrets(config))
        emit: OnOutput = (lambda line: on_output(redact(line))) if on_output else (lambda line: None)

        stack = self._open(stack_name, program, action, redact)
        if config:
            values = {key: auto.ConfigValue(value=v.value, secret=v.secret) for key, v in config.items()}
            self._guard(stack_name, "config", lambda: stack.set_all_config(values), redact)

        invoke = lambda: self._invoke(stack, action, emit)  # noqa: E731
        result = self._with_lock_retry(stack_name, action, emit, invoke, redact)
        if action == "preview":
            changes = change_counts(result.change_summary)
        else:
            changes = change_counts(result.summary.resource_changes)
        read_outputs = (lambda: result.outputs) if action == "up" else stack.outputs
        outputs, secret_names = mask_outputs(self._guard(stack_name, action, read_outputs, redact), redact)
        return StackRunResult(
            stack_name=stack_name,
            action=action,
            change_summary=changes,
            has_changes=any(n > 0 for kind, n in changes.items() if kind not in NO_CHANGE_KINDS),
            outputs=outputs,
            secret_output_names=secret_names,
        )

    def _with_lock_retry(
        self,
        stack_name: str,
        action: str,
        emit: OnOutput,
        fn: Callable[[], Any],
        redact: Callable[[str], str],
    ) -> Any:
        """`fn()`, retried on lock conflicts with linear backoff, then `StackLockedError`."""
        for attempt in range(self.lock_retry_attempts + 1):
            try:
                return self._guard(stack_name, action, fn, redact, pass_locks=True)
            except auto.CommandError:  # _guard lets only lock conflicts through
                if attempt >= self.lock_retry_attempts:
                    break
                wait = self.lock_retry_wait_s * (attempt + 1)
                emit(f"stack {stack_name} is locked by another update; retry {attempt + 1} in {wait:g}s")
                self._sleep(wait)
        raise StackLockedError(stack_name, attempts=self.lock_retry_attempts + 1)

    @staticmethod
    def _invoke(stack: StackLike, action: str, emit: OnOutput) -> Any:
        if action == "preview":
            return stack.preview(on_output=emit, color="never")
        if action == "up":
            return stack.up(on_output=emit, color="never", show_secrets=False)
        return stack.refresh(on_output=emit, color="never", show_secrets=False)
