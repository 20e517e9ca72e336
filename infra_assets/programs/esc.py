"""The `<env>-esc` stack: the runtime ESC environment, its rotated sibling and the rotation schedule.

`<env>-rotated` is created from the spec once and then belongs to ESC: every rotation writes the rotators' state
into its definition, so the stack ignores later changes to its YAML (a new rotator is added by hand or by
replacing the resource, see docs/secrets.md). The runtime environment imports it, so it is created first.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_pulumiservice as pulumiservice

from infra_assets.specs.esc import EscEnvironmentSpec, render_esc_yaml, render_rotated_yaml

RESOURCE_NAME = "esc-environment"
ROTATED_RESOURCE_NAME = "esc-rotated-environment"
SCHEDULE_RESOURCE_NAME = "esc-rotation-schedule"


def esc_program(spec: EscEnvironmentSpec, yaml_text: str | None = None) -> Callable[[], None]:
    """A program that owns `<org>/<project>/<name>`; the provider authenticates with PULUMI_ACCESS_TOKEN."""
    definition = yaml_text if yaml_text is not None else render_esc_yaml(spec)

    def program() -> None:
        rotated = pulumiservice.Environment(
            ROTATED_RESOURCE_NAME,
            organization=spec.organization,
            project=spec.project,
            name=spec.rotated_name,
            yaml=pulumi.StringAsset(render_rotated_yaml(spec)),
            opts=pulumi.ResourceOptions(protect=spec.protect, ignore_changes=["yaml"]),
        )
        schedule = pulumiservice.EnvironmentRotationSchedule(
            SCHEDULE_RESOURCE_NAME,
            organization=spec.organization,
            project=spec.project,
            environment=spec.rotated_name,
            schedule_cron=spec.rotation_cron,
            opts=pulumi.ResourceOptions(depends_on=[rotated]),
        )
        environment = pulumiservice.Environment(
            RESOURCE_NAME,
            organization=spec.organization,
            project=spec.project,
            name=spec.name,
            yaml=pulumi.StringAsset(definition),
            opts=pulumi.ResourceOptions(protect=spec.protect, depends_on=[rotated]),
        )
        pulumi.export("environment", f"{spec.organization}/{spec.qualified_name}")
        pulumi.export("rotated_environment", f"{spec.organization}/{spec.project}/{spec.rotated_name}")
        pulumi.export("rotation_schedule", schedule.schedule_cron)
        pulumi.export("revision", environment.revision)
        pulumi.export("exported_env_vars", list(spec.exported_env_vars))

    return program
