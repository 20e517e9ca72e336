"""The `<env>-esc` stack: the ESC environment definition as a `pulumiservice.Environment`."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_pulumiservice as pulumiservice

from infra_assets.specs.esc import EscEnvironmentSpec, render_esc_yaml

RESOURCE_NAME = "esc-environment"


def esc_program(spec: EscEnvironmentSpec, yaml_text: str | None = None) -> Callable[[], None]:
    """A program that owns `<org>/<project>/<name>`; the provider authenticates with PULUMI_ACCESS_TOKEN."""
    definition = yaml_text if yaml_text is not None else render_esc_yaml(spec)

    def program() -> None:
        environment = pulumiservice.Environment(
            RESOURCE_NAME,
            organization=spec.organization,
            project=spec.project,
            name=spec.name,
            yaml=pulumi.StringAsset(definition),
            opts=pulumi.ResourceOptions(protect=spec.protect),
        )
        pulumi.export("environment", f"{spec.organization}/{spec.qualified_name}")
        pulumi.export("revision", environment.revision)
        pulumi.export("exported_env_vars", list(spec.exported_env_vars))

    return program
