"""`secret_age`: how long ago each secret last changed, from the ESC environments' revision history.

Every write to an ESC environment is a revision with a date. A secret's value lives at a known place in one
definition: a mirrored organization secret at `values.github_secrets.<NAME>` of `github-secrets` (the sync
workflow rewrites it only when the value changed), a rotated one in its rotator's `state` in `<env>-rotated`
(rewritten by each rotation). Walking revisions newest first, a secret's age is the date of the oldest revision
in the leading run where that node is unchanged. Only definitions are read (secrets there are ciphertext):
nothing is decrypted. The walk stops once every secret's run has ended, or at `max_revisions` (then the age is
a lower bound, said so in the metadata).

One check per secret on `esc_environment`, WARN past `max_age_days` (run config, default 90), each linking the
runbook in docs/secrets.md. ESC is the Pulumi Cloud the stacks use (`PULUMI_BACKEND_URL` when it is an http(s)
URL, else api.pulumi.com). Without PULUMI_ACCESS_TOKEN the checks are skipped with the reason logged; when ESC
cannot be read they warn with the failed call (the run does not fail).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from infra_assets.settings import InfraSettings
from infra_assets.specs.esc import GITHUB_SECRETS_ENV, EscEnvironmentSpec, EscValue, build_esc_spec
from resources.http_retry import Failure, RetryPolicy, call_with_retry, classify_httpx, describe_status
from resources.profile import profile
from resources.pulumi_stack import PulumiStackResource

DEFAULT_MAX_AGE_DAYS = 90.0
PULUMI_CLOUD_URL = "https://api.pulumi.com"  # the SDK appends /api/esc
DEFAULT_MAX_REVISIONS = 200
PAGE = 50
RUNBOOK = "docs/secrets.md#runbook-rotating-a-secret-by-hand"
CHECK_PREFIX = "secret_age_"
AGE_CHECK_CRON = "30 4 * * *"  # daily, after the drift checks


class SecretAgeError(Exception):
    """ESC could not be read; the message names the environment and call, never a value."""


class PermanentSecretAgeError(SecretAgeError):
    """Retrying cannot fix it (bad token, unknown environment)."""


@dataclass(frozen=True, slots=True)
class Revision:
    number: int
    created: datetime
    creator: str | None = None


@dataclass(frozen=True, slots=True)
class SecretAge:
    """When one value last changed: the revision that introduced its current form."""

    env_var: str
    environment: str
    changed: Revision | None  # None: never set in the revisions read
    lower_bound: bool = False  # the walk ran out of revisions before the value's run ended


def watched(spec: EscEnvironmentSpec) -> tuple[EscValue, ...]:
    """Credentials whose age ESC can see (account settings and stack outputs are not watched)."""
    return tuple(v for v in spec.secrets if v.secret and v.age_source is not None)


def check_name(value: EscValue) -> str:
    return CHECK_PREFIX + value.env_var.lower()


def environment_name(spec: EscEnvironmentSpec, suffix: str) -> str:
    return GITHUB_SECRETS_ENV if suffix == GITHUB_SECRETS_ENV else spec.rotated_name


def _node(document: Mapping[str, Any] | None, path: Sequence[str]) -> Any:
    node: Any = document or {}
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, Mapping):  # a rotator: its state is the value (inputs are configuration)
        rotate = [k for k in node if str(k).startswith("fn::rotate")]
        if len(rotate) == 1 and isinstance(node[rotate[0]], Mapping):
            return node[rotate[0]].get("state")
    return node


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.fromtimestamp(0, UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _classify(exc: BaseException) -> Failure | None:
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        return Failure(describe_status(status), status in (408, 425, 429) or status >= 500)
    name = type(exc).__name__
    if "MaxRetryError" in name or "ProtocolError" in name or isinstance(exc, ConnectionError):
        return Failure(name, True)
    return classify_httpx(exc)


@dataclass
class EscRevisions:
    """Reads revision lists and definitions through `pulumi_esc_sdk.EscClient` (retrying transient faults)."""

    client: Any  # pulumi_esc_sdk.EscClient
    organization: str
    project: str
    policy: RetryPolicy | None = None

    @classmethod
    def connect(cls, access_token: str, organization: str, project: str, api_url: str | None = None) -> "EscRevisions":
        import pulumi_esc_sdk as esc

        config = esc.Configuration(access_token=access_token, host=api_url or "https://api.pulumi.com")
        return cls(esc.EscClient(config), organization, project)

    def _call(self, fn: Callable[[], Any], operation: str) -> Any:
        return call_with_retry(
            fn,
            source="esc",
            operation=operation,
            policy=self.policy,
            classify=_classify,
            error=SecretAgeError,
            permanent_error=PermanentSecretAgeError,
        )

    def revisions(self, env: str, limit: int) -> Iterator[Revision]:
        """Newest first, at most `limit`."""
        before: int | None = None
        seen = 0
        while seen < limit:
            count = min(PAGE, limit - seen)
            page = self._call(
                lambda b=before, c=count: self.client.list_environment_revisions(
                    self.organization, self.project, env, before=b, count=c
                ),
                f"GET environments/{self.project}/{env}/versions",
            )
            if not page:
                return
            for rev in page:
                yield Revision(rev.number, _parse_time(rev.created), rev.creator_login)
                seen += 1
            before = min(r.number for r in page)
            if before <= 1:
                return

    def definition(self, env: str, revision: int) -> dict[str, Any]:
        _, raw = self._call(
            lambda: self.client.get_environment_at_version(self.organization, self.project, env, str(revision)),
            f"GET environments/{self.project}/{env}/versions/{revision}",
        )
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        return yaml.safe_load(text) or {}


def secret_ages(
    spec: EscEnvironmentSpec, reader: EscRevisions, max_revisions: int = DEFAULT_MAX_REVISIONS
) -> list[SecretAge]:
    """The age of every watched secret, one revision walk per environment."""
    by_env: dict[str, list[EscValue]] = {}
    for value in watched(spec):
        suffix, _ = value.age_source  # type: ignore[misc]
        by_env.setdefault(environment_name(spec, suffix), []).append(value)
    ages: list[SecretAge] = []
    for env, values in by_env.items():
        newest: dict[str, Any] = {}
        changed: dict[str, Revision | None] = {}
        open_runs = {v.env_var for v in values}
        first = True
        oldest_read: int | None = None
        for rev in reader.revisions(env, max_revisions):
            oldest_read = rev.number
            document = reader.definition(env, rev.number)
            for value in values:
                if value.env_var not in open_runs:
                    continue
                node = _node(document, value.age_source[1])  # type: ignore[index]
                if first:
                    newest[value.env_var] = node
                    changed[value.env_var] = rev if node is not None else None
                    if node is None:
                        open_runs.discard(value.env_var)
                elif node == newest[value.env_var]:
                    changed[value.env_var] = rev
                else:
                    open_runs.discard(value.env_var)
            first = False
            if not open_runs:
                break
        truncated = oldest_read is not None and oldest_read > 1  # older revisions exist but were not read
        ages += [
            SecretAge(
                v.env_var,
                env,
                changed.get(v.env_var),
                lower_bound=truncated and v.env_var in open_runs and changed.get(v.env_var) is not None,
            )
            for v in values
        ]
    return ages


class SecretAgeConfig(dg.Config):
    max_age_days: float = Field(
        default=DEFAULT_MAX_AGE_DAYS, description="Warn when a secret last changed longer ago than this."
    )


def esc_api_url(backend_url: str | None) -> str:
    """ESC lives in the Pulumi Cloud the stacks use: the backend URL when it is one, else api.pulumi.com."""
    return backend_url if backend_url and backend_url.startswith(("http://", "https://")) else PULUMI_CLOUD_URL


def age_result(value: EscValue, age: SecretAge, now: datetime, limit_days: float) -> dg.AssetCheckResult:
    """WARN past the limit or when ESC has never seen the value; metadata holds dates and names, never values."""
    metadata: dict[str, Any] = {
        "environment": age.environment,
        "org_secret": value.org_secret or "(generated in ESC)",
        "rotation": value.rotation,
        "max_age_days": limit_days,
        "runbook": dg.MetadataValue.md(f"[Rotating a secret by hand]({RUNBOOK})"),
    }
    if age.changed is None:
        return dg.AssetCheckResult(
            check_name=check_name(value),
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=metadata,
            description=f"{value.env_var} is not set in {age.environment}",
        )
    days = (now - age.changed.created).total_seconds() / 86400
    metadata |= {
        "age_days": round(days, 1),
        "last_changed": age.changed.created.isoformat(timespec="seconds"),
        "revision": age.changed.number,
        "age_is_lower_bound": age.lower_bound,
    }
    stale = days > limit_days
    return dg.AssetCheckResult(
        check_name=check_name(value),
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=(
            f"{value.env_var} last changed {days:.0f} days ago (limit {limit_days:g}): rotate it, see the runbook"
            if stale
            else f"{value.env_var} last changed {days:.0f} days ago"
        ),
    )


def build_secret_age_checks(env: str, asset_key: dg.AssetKey) -> dg.AssetChecksDefinition:
    """`secret_age_<variable>` for every watched secret of profile `env`, on `asset_key`, computed in one pass."""
    values = watched(build_esc_spec(profile(env)))
    condition = dg.AutomationCondition.on_cron(AGE_CHECK_CRON)
    specs = [
        dg.AssetCheckSpec(
            check_name(v),
            asset=asset_key,
            description=f"{v.env_var} ({v.org_secret or 'generated in ESC'}; rotation: {v.rotation}) changed within "
            f"`max_age_days` (default {DEFAULT_MAX_AGE_DAYS:g}), from the ESC revision history.",
            automation_condition=condition,
        )
        for v in values
    ]

    @dg.multi_asset_check(name=f"{asset_key.path[-1]}_secret_age", specs=specs, can_subset=True)
    def _check(
        context: dg.AssetCheckExecutionContext,
        config: SecretAgeConfig,
        infra: InfraSettings,
        pulumi: PulumiStackResource,
    ) -> Iterator[dg.AssetCheckResult]:
        if not pulumi.access_token:
            context.log.info("secret_age skipped: PULUMI_ACCESS_TOKEN is not set, ESC cannot be read.")
            return
        spec = infra.specs().esc
        wanted = [v for v in watched(spec) if check_name(v) in {k.name for k in context.selected_asset_check_keys}]
        reader = EscRevisions.connect(
            pulumi.access_token, spec.organization, spec.project, esc_api_url(pulumi.backend_url)
        )
        try:
            ages = {a.env_var: a for a in secret_ages(spec, reader)}
        except SecretAgeError as exc:  # contained: every selected check warns with the failed call
            for value in wanted:
                yield dg.AssetCheckResult(
                    check_name=check_name(value),
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"runbook": dg.MetadataValue.md(f"[Rotating a secret by hand]({RUNBOOK})")},
                    description=f"cannot read ESC: {exc}",
                )
            return
        now = datetime.now(UTC)
        for value in wanted:
            yield age_result(value, ages[value.env_var], now, config.max_age_days)

    return _check
