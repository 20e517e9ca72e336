"""Load the project's `defs/` folder as one `Definitions`, for an environment profile and optional resources.

`dg`, `dagster dev` and the webserver load `sophia_platform.definitions:defs`, which is this under the current
profile. Tests and CLIs that need another environment's definitions in-process call `load_platform(env)`;
`resources` replaces resources by key (e.g. the local backends on a temp directory).
"""

from __future__ import annotations

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


def load_platform(env: str | EnvProfile | None = None, resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """Every definition of the code location, for `env` (default: the current profile)."""
    with using_profile(env), _overriding(resources):
        return dg.load_from_defs_folder(path_within_project=PROJECT_DIR)
