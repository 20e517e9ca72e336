"""Desired state of the Pulumi ESC environment that holds every credential Sophia AI uses.

Secret *values* never live here. Each secret is a reference (`${github_secrets.NAME}`) into an imported
environment, `<project>/github-secrets`, which mirrors the organization's GitHub secrets and is filled with
`esc env set <org>/<project>/github-secrets github_secrets.NAME --secret` (so ESC stores only ciphertext).
The managed environment groups those references (ai_services, data_services, infrastructure, snowflake,
pinecone) and exports them as `environmentVariables`, so `esc run` / `esc env open --format dotenv` feed the
variables this project's settings read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from resources.profile import ENV_VAR, EnvProfile

GITHUB_SECRETS_ENV = "github-secrets"
GITHUB_SECRETS_KEY = "github_secrets"


@dataclass(frozen=True, slots=True)
class EscValue:
    """One leaf under `values`: where it sits, which imported secret it references, what it exports."""

    path: tuple[str, ...]
    env_var: str
    source: str  # ESC path in the imported environment, rendered as `${source}`

    @property
    def dotted_path(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class EscEnvironmentSpec:
    """The ESC environment `<organization>/<project>/<name>` as data."""

    organization: str
    project: str
    name: str
    imports: tuple[str, ...]
    secrets: tuple[EscValue, ...]
    plain_env: Mapping[str, str] = field(default_factory=dict)  # non-secret exports, e.g. SOPHIA_ENV
    protect: bool = False  # Pulumi `protect`: deleting the environment loses every secret reference

    @property
    def qualified_name(self) -> str:
        """`project/name`, the form `imports` and `esc run` use inside one organization."""
        return f"{self.project}/{self.name}"

    @property
    def exported_env_vars(self) -> tuple[str, ...]:
        return tuple(v.env_var for v in self.secrets) + tuple(self.plain_env)


# (path under `values`, exported variable). The GitHub org secret carries the variable's name. Account-specific
# settings (Snowflake database, Pinecone index host, ...) come from the same mirror, so one place holds them.
SECRET_CATALOGUE: tuple[tuple[str, str], ...] = (
    ("ai_services.arize.space_id", "ARIZE_SPACE_ID"),
    ("ai_services.arize.api_key", "ARIZE_API_KEY"),
    ("ai_services.openrouter.api_key", "OPENROUTER_API_KEY"),
    ("ai_services.portkey.api_key", "PORTKEY_API_KEY"),
    ("ai_services.portkey.config", "PORTKEY_CONFIG"),
    ("ai_services.huggingface.api_token", "HF_TOKEN"),
    ("ai_services.together_ai.api_key", "TOGETHER_API_KEY"),
    ("data_services.apify.token", "APIFY_TOKEN"),
    ("data_services.phantombuster.api_key", "PHANTOMBUSTER_API_KEY"),
    ("data_services.phantombuster.linkedin_search_agent_id", "PHANTOMBUSTER_LINKEDIN_SEARCH_AGENT_ID"),
    ("data_services.twingly.api_key", "TWINGLY_API_KEY"),
    ("data_services.tavily.api_key", "TAVILY_API_KEY"),
    ("data_services.zenrows.api_key", "ZENROWS_API_KEY"),
    ("infrastructure.lambda_labs.api_key", "LAMBDA_API_KEY"),
    ("infrastructure.docker.username", "DOCKER_USERNAME"),
    ("infrastructure.docker.token", "DOCKER_TOKEN"),
    ("infrastructure.pulumi.access_token", "PULUMI_ACCESS_TOKEN"),
    ("snowflake.account", "SNOWFLAKE_ACCOUNT"),
    ("snowflake.user", "SNOWFLAKE_USER"),
    ("snowflake.password", "SNOWFLAKE_PASSWORD"),
    ("snowflake.role", "SNOWFLAKE_ROLE"),
    ("snowflake.warehouse", "SNOWFLAKE_WAREHOUSE"),
    ("snowflake.database", "SNOWFLAKE_DATABASE"),
    ("snowflake.schema", "SNOWFLAKE_SCHEMA"),
    ("pinecone.api_key", "PINECONE_API_KEY"),
    ("pinecone.index_host", "PINECONE_INDEX_HOST"),
)


def build_esc_spec(
    profile: EnvProfile,
    *,
    organization: str = "sophia-ai",
    project: str = "sophia-ai",
    extra_env: Mapping[str, str] | None = None,
) -> EscEnvironmentSpec:
    """The environment `<project>/<profile name>`: each catalogued secret referenced from the GitHub mirror.

    Protected against deletion when the profile says so (`protect_stacks`).
    """
    secrets = tuple(
        EscValue(path=tuple(path.split(".")), env_var=var, source=f"{GITHUB_SECRETS_KEY}.{var}")
        for path, var in SECRET_CATALOGUE
    )
    return EscEnvironmentSpec(
        organization=organization,
        project=project,
        name=profile.name,
        imports=(f"{project}/{GITHUB_SECRETS_ENV}",),
        secrets=secrets,
        plain_env={ENV_VAR: profile.name, **(extra_env or {})},
        protect=profile.protect_stacks,
    )


def esc_document(spec: EscEnvironmentSpec) -> dict[str, Any]:
    """The environment definition as a dict (`imports`, `values`, `values.environmentVariables`)."""
    values: dict[str, Any] = {}
    for leaf in spec.secrets:
        node = values
        for part in leaf.path[:-1]:
            node = node.setdefault(part, {})
        node[leaf.path[-1]] = f"${{{leaf.source}}}"
    exports: dict[str, str] = {leaf.env_var: f"${{{leaf.dotted_path}}}" for leaf in spec.secrets}
    exports.update(spec.plain_env)
    values["environmentVariables"] = exports
    return {"imports": list(spec.imports), "values": values}


def render_esc_yaml(spec: EscEnvironmentSpec, document: Mapping[str, Any] | None = None) -> str:
    """The environment definition as the YAML text `pulumiservice.Environment` uploads."""
    header = (
        f"# ESC environment {spec.organization}/{spec.qualified_name}, managed by Sophia Pipelines\n"
        "# (infra_assets/specs/esc.py). Secrets are references into the imported GitHub secrets mirror;\n"
        "# edits made in the console are overwritten by the next `up` of the esc stack.\n"
    )
    body = yaml.safe_dump(dict(document or esc_document(spec)), sort_keys=False, default_flow_style=False)
    return header + body
