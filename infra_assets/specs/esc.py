"""Desired state of the Pulumi ESC environments that hold every credential Sophia AI uses.

Secret *values* never live here. Three environments in the project (`sophia-ai`):

- `github-secrets`, the mirror: each GitHub organization secret under the organization's own name (the brief's:
  `LAMBDA_LABS_API_KEY`, `HUGGINGFACE_API_TOKEN`, ...) at `github_secrets.<NAME>`, written as an ESC secret by
  `.github/workflows/sync-secrets.yml` (GitHub cannot hand secret values back, so the workflow pushes them).
- `<env>-rotated`: the credentials ESC rotates itself (`fn::rotate::snowflake-user`, `fn::rotate::postgres`,
  `fn::rotate::password`, and `fn::rotate::external` through `secret_rotation.rotation_adapter`). ESC writes
  each rotator's state into this definition, so the esc stack creates it once and leaves its YAML alone after.
- `<env>`, the one runtime reads: imports both, groups the references as the brief does (`ai_services`,
  `data_services`, `infrastructure`, `snowflake`, `pinecone`, `platform`), adds the cluster stack's outputs
  (`fn::open::pulumi-stacks`) and exports everything under the names the code reads (`environmentVariables`,
  `files` for KUBECONFIG), so no organization secret is ever renamed.

`SECRET_CATALOGUE` is the one list: the sync workflow, the docs table and the `secret_age` checks all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from resources.profile import ENV_VAR, EnvProfile

GITHUB_SECRETS_ENV = "github-secrets"
GITHUB_SECRETS_KEY = "github_secrets"
ROTATED_KEY = "rotated"  # top-level key of the `<env>-rotated` environment
ROTATION_LOGINS_ENV = "rotation-logins"  # admin-only environment with the rotators' managing credentials
CLUSTER_STACK_KEY = "cluster_stack"
CLUSTER_COMPONENT = "cluster"  # the cluster engineer's stack `<env>-cluster`
# Where Pulumi Cloud reaches the rotation adapter (HTTPS); also the JWT audience the adapter expects.
DEFAULT_ROTATION_ADAPTER_URL = "https://secrets-rotator.sophia-ai.dev/rotate"
# Monthly at 03:00 UTC on the 1st: well above the ExternalSecret refresh interval (the overlap window).
DEFAULT_ROTATION_CRON = "0 3 1 * *"
DAGSTER_PG_USERS = ("dagster_a", "dagster_b")  # the two users `fn::rotate::postgres` alternates

Rotation = Literal["manual", "snowflake-user", "postgres", "password", "external", "stack-output", "setting"]


@dataclass(frozen=True, slots=True)
class EscValue:
    """One leaf under `values`: where it sits, what it references, what it exports, how it rotates."""

    path: tuple[str, ...]
    env_var: str
    source: str  # ESC path it references, rendered as `${source}`
    org_secret: str | None = None  # the GitHub organization secret (the brief's name) it comes from, if any
    rotation: Rotation = "manual"
    secret: bool = True  # False: account settings (ids, hosts) kept beside the secrets, not credentials

    @property
    def dotted_path(self) -> str:
        return ".".join(self.path)

    @property
    def age_source(self) -> tuple[str, tuple[str, ...]] | None:
        """(environment suffix, definition path) whose revisions date this value; None when ESC cannot see it."""
        if self.org_secret is not None and self.rotation in ("manual", "setting"):
            return GITHUB_SECRETS_ENV, ("values", GITHUB_SECRETS_KEY, self.org_secret)
        if self.source.startswith(f"{ROTATED_KEY}."):
            return "rotated", ("values", *self.source.split(".")[:2])
        return None


@dataclass(frozen=True, slots=True)
class Rotator:
    """One `fn::rotate::<provider>` under `rotated.<name>` in `<env>-rotated`."""

    name: str
    provider: str
    inputs: Mapping[str, Any]
    state: Mapping[str, Any] | None = None  # initial state (the organization's current value), else none

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": dict(self.inputs)}
        if self.state is not None:
            body["state"] = dict(self.state)
        return {f"fn::rotate::{self.provider}": body}


@dataclass(frozen=True, slots=True)
class EscEnvironmentSpec:
    """The ESC environment `<organization>/<project>/<name>` as data, with its rotated sibling."""

    organization: str
    project: str
    name: str
    imports: tuple[str, ...]
    secrets: tuple[EscValue, ...]
    plain_env: Mapping[str, str] = field(default_factory=dict)  # non-secret exports, e.g. SOPHIA_ENV
    protect: bool = False  # Pulumi `protect`: deleting the environment loses every secret reference
    rotators: tuple[Rotator, ...] = ()
    rotation_cron: str = DEFAULT_ROTATION_CRON
    cluster_stack: str | None = None  # `<project>/<env>-cluster`, opened with fn::open::pulumi-stacks
    files: Mapping[str, str] = field(default_factory=dict)  # file exports: {VAR: ESC path}, VAR = the file's path

    @property
    def qualified_name(self) -> str:
        """`project/name`, the form `imports` and `esc run` use inside one organization."""
        return f"{self.project}/{self.name}"

    @property
    def rotated_name(self) -> str:
        return f"{self.name}-rotated"

    @property
    def exported_env_vars(self) -> tuple[str, ...]:
        """Every variable `esc run` / `esc env open --format dotenv` sets (files included: their path)."""
        return tuple(v.env_var for v in self.secrets) + tuple(self.plain_env) + tuple(self.files)

    @property
    def org_secrets(self) -> tuple[str, ...]:
        """The GitHub organization secrets the mirror must hold, in catalogue order."""
        return tuple(v.org_secret for v in self.secrets if v.org_secret is not None)


# (path under `values`, GitHub organization secret, exported variable, rotation). Names as the brief lists them;
# the exported name is what the code reads. Account settings (Snowflake database, Pinecone host, ...) come from the
# same mirror, so one place holds them.
SECRET_CATALOGUE: tuple[tuple[str, str, str, Rotation], ...] = (
    ("ai_services.arize.space_id", "ARIZE_SPACE_ID", "ARIZE_SPACE_ID", "setting"),
    ("ai_services.arize.api_key", "ARIZE_API_KEY", "ARIZE_API_KEY", "manual"),
    ("ai_services.openrouter.api_key", "OPENROUTER_API_KEY", "OPENROUTER_API_KEY", "external"),
    ("ai_services.portkey.api_key", "PORTKEY_API_KEY", "PORTKEY_API_KEY", "manual"),
    ("ai_services.portkey.config", "PORTKEY_CONFIG", "PORTKEY_CONFIG", "setting"),
    ("ai_services.huggingface.api_token", "HUGGINGFACE_API_TOKEN", "HF_TOKEN", "manual"),
    ("ai_services.together_ai.api_key", "TOGETHER_AI_API_KEY", "TOGETHER_API_KEY", "manual"),
    ("data_services.apify.token", "APIFY_API_TOKEN", "APIFY_TOKEN", "manual"),
    ("data_services.phantombuster.api_key", "PHANTOM_BUSTER_API_KEY", "PHANTOMBUSTER_API_KEY", "manual"),
    (
        "data_services.phantombuster.linkedin_search_agent_id",
        "PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID",
        "PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID",
        "setting",
    ),
    ("data_services.twingly.api_key", "TWINGLY_API_KEY", "TWINGLY_API_KEY", "manual"),
    ("data_services.tavily.api_key", "TAVILY_API_KEY", "TAVILY_API_KEY", "manual"),
    ("data_services.zenrows.api_key", "ZENROWS_API_KEY", "ZENROWS_API_KEY", "manual"),
    ("infrastructure.lambda_labs.api_key", "LAMBDA_LABS_API_KEY", "LAMBDA_API_KEY", "manual"),
    ("infrastructure.docker.username", "DOCKER_USER_NAME", "DOCKER_USERNAME", "setting"),
    ("infrastructure.docker.token", "DOCKER_PERSONAL_ACCESS_TOKEN", "DOCKER_TOKEN", "manual"),
    ("infrastructure.pulumi.access_token", "PULUMI_ACCESS_TOKEN", "PULUMI_ACCESS_TOKEN", "manual"),
    ("snowflake.account", "SNOWFLAKE_ACCOUNT", "SNOWFLAKE_ACCOUNT", "setting"),
    ("snowflake.user", "SNOWFLAKE_USER", "SNOWFLAKE_USER", "setting"),
    ("snowflake.password", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_PASSWORD", "manual"),
    ("snowflake.role", "SNOWFLAKE_ROLE", "SNOWFLAKE_ROLE", "setting"),
    ("snowflake.warehouse", "SNOWFLAKE_WAREHOUSE", "SNOWFLAKE_WAREHOUSE", "setting"),
    ("snowflake.database", "SNOWFLAKE_DATABASE", "SNOWFLAKE_DATABASE", "setting"),
    ("snowflake.schema", "SNOWFLAKE_SCHEMA", "SNOWFLAKE_SCHEMA", "setting"),
    ("pinecone.api_key", "PINECONE_API_KEY", "PINECONE_API_KEY", "external"),
    ("pinecone.index_host", "PINECONE_INDEX_HOST", "PINECONE_INDEX_HOST", "setting"),
    ("pinecone.sparse_index_host", "PINECONE_SPARSE_INDEX_HOST", "PINECONE_SPARSE_INDEX_HOST", "setting"),
    ("platform.dagster_postgres.host", "DAGSTER_PG_HOST", "DAGSTER_PG_HOST", "setting"),
)

# Values that exist only in ESC (no organization secret): (path, exported variable, source, rotation).
GENERATED_CATALOGUE: tuple[tuple[str, str, str, Rotation], ...] = (
    ("snowflake.private_key", "SNOWFLAKE_PRIVATE_KEY", f"{ROTATED_KEY}.snowflake.privateKey", "snowflake-user"),
    (
        "platform.dagster_postgres.username",
        "DAGSTER_PG_USERNAME",
        f"{ROTATED_KEY}.dagster_postgres.current.username",
        "postgres",
    ),
    (
        "platform.dagster_postgres.password",
        "DAGSTER_PG_PASSWORD",
        f"{ROTATED_KEY}.dagster_postgres.current.password",
        "postgres",
    ),
    ("platform.mcp.auth_token", "MCP_AUTH_TOKEN", f"{ROTATED_KEY}.mcp_auth.current", "password"),
    ("infrastructure.cluster.join_token", "K3S_TOKEN", f"{CLUSTER_STACK_KEY}.cluster.joinToken", "stack-output"),
)
GENERATED_SETTINGS = frozenset({"DAGSTER_PG_USERNAME"})  # generated values that are not credentials
KUBECONFIG_PATH = "infrastructure.cluster.kubeconfig"  # exported as a file: KUBECONFIG is its path
KUBECONFIG_SOURCE = f"{CLUSTER_STACK_KEY}.cluster.kubeconfig"
# Brief's names for the Cursor MCP configuration (which environment `esc run` opens).
CURSOR_ENV_VARS = ("ESC_ORG", "ESC_PROJECT", "ESC_ENVIRONMENT")
# Externally rotated secrets: rotator name -> the org secret that seeds its first state.
EXTERNAL_ROTATORS = {"openrouter": "OPENROUTER_API_KEY", "pinecone": "PINECONE_API_KEY"}


def _rotated_source(org_secret: str) -> str:
    name = next(n for n, s in EXTERNAL_ROTATORS.items() if s == org_secret)
    return f"{ROTATED_KEY}.{name}.current.apiKey"


def catalogue_values() -> tuple[EscValue, ...]:
    """Every value of the runtime environment, from the two catalogues."""
    mirrored = tuple(
        EscValue(
            path=tuple(path.split(".")),
            env_var=var,
            source=_rotated_source(org) if rotation == "external" else f"{GITHUB_SECRETS_KEY}.{org}",
            org_secret=org,
            rotation=rotation,
            secret=rotation != "setting",
        )
        for path, org, var, rotation in SECRET_CATALOGUE
    )
    generated = tuple(
        EscValue(
            path=tuple(path.split(".")),
            env_var=var,
            source=source,
            rotation=rotation,
            secret=var not in GENERATED_SETTINGS,
        )
        for path, var, source, rotation in GENERATED_CATALOGUE
    )
    return mirrored + generated


def build_rotators(project: str, env_name: str, adapter_url: str = DEFAULT_ROTATION_ADAPTER_URL) -> tuple[Rotator, ...]:
    """The rotators of `<env>-rotated`: inputs reference the mirror and the admin-only logins environment."""
    logins = f'environments["{project}"]["{ROTATION_LOGINS_ENV}"]'  # bracket form: the names hold hyphens
    mirror = GITHUB_SECRETS_KEY
    externals = tuple(
        Rotator(
            name=name,
            provider="external",
            inputs={"url": adapter_url, "request": {"service": name, "environment": env_name}},
            state={"current": {"apiKey": f"${{{mirror}.{org}}}"}},
        )
        for name, org in EXTERNAL_ROTATORS.items()
    )
    return (
        Rotator(
            "snowflake",
            "snowflake-user",
            {"login": f"${{{logins}.snowflake.login}}", "targetUser": f"${{{mirror}.SNOWFLAKE_USER}}"},
        ),
        Rotator(
            "dagster_postgres",
            "postgres",
            {
                "database": {
                    "host": f"${{{mirror}.DAGSTER_PG_HOST}}",
                    "port": 5432,
                    "database": "dagster",
                    "managingUser": f"${{{logins}.postgres.managingUser}}",
                },
                "rotateUsers": {"username1": DAGSTER_PG_USERS[0], "username2": DAGSTER_PG_USERS[1]},
            },
        ),
        Rotator("mcp_auth", "password", {"length": 48, "special": False}),
        *externals,
    )


def build_esc_spec(
    profile: EnvProfile,
    *,
    organization: str = "sophia-ai",
    project: str = "sophia-ai",
    extra_env: Mapping[str, str] | None = None,
    adapter_url: str = DEFAULT_ROTATION_ADAPTER_URL,
) -> EscEnvironmentSpec:
    """The environment `<project>/<profile name>`: the catalogue referenced from the mirror and the rotated env.

    Protected against deletion when the profile says so (`protect_stacks`).
    """
    cursor = dict(zip(CURSOR_ENV_VARS, (organization, project, profile.name), strict=True))
    return EscEnvironmentSpec(
        organization=organization,
        project=project,
        name=profile.name,
        imports=(f"{project}/{GITHUB_SECRETS_ENV}", f"{project}/{profile.name}-rotated"),
        secrets=catalogue_values(),
        plain_env={ENV_VAR: profile.name, **cursor, **(extra_env or {})},
        protect=profile.protect_stacks,
        rotators=build_rotators(project, profile.name, adapter_url),
        cluster_stack=f"{project}/{profile.name}-{CLUSTER_COMPONENT}",
        files={"KUBECONFIG": KUBECONFIG_PATH},
    )


def _put(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = values
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def esc_document(spec: EscEnvironmentSpec) -> dict[str, Any]:
    """The runtime environment definition as a dict (`imports`, `values`, `environmentVariables`, `files`)."""
    values: dict[str, Any] = {}
    if spec.cluster_stack:
        values[CLUSTER_STACK_KEY] = {"fn::open::pulumi-stacks": {"stacks": {"cluster": {"stack": spec.cluster_stack}}}}
        _put(values, tuple(KUBECONFIG_PATH.split(".")), f"${{{KUBECONFIG_SOURCE}}}")
    for leaf in spec.secrets:
        _put(values, leaf.path, f"${{{leaf.source}}}")
    exports: dict[str, str] = {leaf.env_var: f"${{{leaf.dotted_path}}}" for leaf in spec.secrets}
    exports.update(spec.plain_env)
    values["environmentVariables"] = exports
    if spec.files:
        values["files"] = {var: f"${{{path}}}" for var, path in spec.files.items()}
    return {"imports": list(spec.imports), "values": values}


def rotated_document(spec: EscEnvironmentSpec) -> dict[str, Any]:
    """`<env>-rotated`: imports the mirror (initial states, rotator inputs) and holds every rotator."""
    return {
        "imports": [f"{spec.project}/{GITHUB_SECRETS_ENV}"],
        "values": {ROTATED_KEY: {r.name: r.document() for r in spec.rotators}},
    }


def _header(spec: EscEnvironmentSpec, name: str, note: str) -> str:
    return (
        f"# ESC environment {spec.organization}/{spec.project}/{name}, managed by Sophia Pipelines\n"
        f"# (infra_assets/specs/esc.py). {note}\n"
    )


def render_esc_yaml(spec: EscEnvironmentSpec, document: Mapping[str, Any] | None = None) -> str:
    """The environment definition as the YAML text `pulumiservice.Environment` uploads."""
    header = _header(
        spec,
        spec.name,
        "Secrets are references into the GitHub secrets mirror and the rotated\n"
        "# environment; edits made in the console are overwritten by the next `up` of the esc stack.",
    )
    body = yaml.safe_dump(dict(document or esc_document(spec)), sort_keys=False, default_flow_style=False)
    return header + body


def render_rotated_yaml(spec: EscEnvironmentSpec) -> str:
    """`<env>-rotated` as YAML: created by the esc stack, then owned by ESC's rotations (their state lives here)."""
    header = _header(
        spec,
        spec.rotated_name,
        "Created once by the esc stack; ESC rotations write each\n"
        "# rotator's state here, so later `up`s leave this YAML alone (ignore_changes).",
    )
    return header + yaml.safe_dump(rotated_document(spec), sort_keys=False, default_flow_style=False)
