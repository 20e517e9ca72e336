"""Load the project's `defs/` folder as one `Definitions`, for an environment profile and optional resources.

`dg`, `dagster dev` and the webserver load `sophia_platform.definitions:defs`, which is this under the current
profile. Tests and CLIs that need another environment's definitions in-process call `load_platform(env)`;
`resources` replaces resources by key (e.g. the local backends on a temp directory).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

import dagster as dg

from resources.profile import EnvProfile, using_profile

PROJECT_DIR = Path(__file__).resolve().parent

_resource_overrides: ContextVar[Mapping[str, Any]] = ContextVar(
    "sophia_resource_overrides", default=MappingProxyType({})
)


def resource_overrides() -> Mapping[str, Any]:
    """Resources that replace the profile's ones while `load_platform(resources=...)` runs."""
    return _resource_overrides.get()


@contextmanager
def _overriding(resources: Mapping[str, Any] | None) -> Iterator[None]:
    token = _resource_overrides.set(dict(resources or {}))
    try:
        yield
    finally:
        _resource_overrides.reset(token)


CODE_REFERENCES = "dagster/code_references"


def with_code_references(defs: dg.Definitions) -> dg.Definitions:
    """Every asset linked to the Python source that computes it (the UI's "open in editor" link)."""
    with warnings.catch_warnings():  # beta/preview Dagster APIs: not worth a warning per asset on every load
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        refs: dict[dg.AssetKey, Any] = {}
        for assets_def in defs.assets or []:
            if isinstance(assets_def, dg.AssetsDefinition):
                for spec in dg.with_source_code_references([assets_def])[0].specs:
                    if CODE_REFERENCES in spec.metadata:
                        refs[spec.key] = spec.metadata[CODE_REFERENCES]
        return defs.map_asset_specs(
            func=lambda spec: (
                spec.merge_attributes(metadata={CODE_REFERENCES: refs[spec.key]}) if spec.key in refs else spec
            )
        )


def load_platform(env: str | EnvProfile | None = None, resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """Every definition of the code location, for `env` (default: the current profile), with the policies that
    apply to all of them (code references) applied once here."""
    with using_profile(env), _overriding(resources):
        return with_code_references(dg.load_from_defs_folder(path_within_project=PROJECT_DIR))
