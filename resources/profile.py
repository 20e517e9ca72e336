"""Environment profiles: everything that differs between `local` and `production`, as data.

`SOPHIA_ENV` is read here and nowhere else (`current_profile()`); definitions, CLIs, sensors and infra specs
take an `EnvProfile` and read its fields instead of branching on the mode's name. Adding an environment (a
`staging` or a per-branch one) is one entry in `PROFILES`: `services="live"` with its own pool bounds (GPU and
CPU pools), replicas, cooldowns and automation default; its stacks are then named `<name>-<component>` and its
secrets come from the ESC environment of that name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import dagster as dg

Env = Literal["local", "production"]
ExecutorKind = Literal["in_process", "multiprocess", "k8s_job"]  # k8s_job: one pod per step (dagster-k8s)

ENV_VAR = "SOPHIA_ENV"
DEFAULT_ENV: Env = "local"

# The embedding model the TEI deployment serves and the production embedder names (one place for both).
TEI_MODEL = "BAAI/bge-small-en-v1.5"
TEI_DIMENSION = 384
WORDLLAMA_DIMENSION = 256  # the dimension wordllama's wheel ships

# The cluster's node pools: the GPU pool (shape: infra_assets/specs/gpu_pool.py; bounds: `EnvProfile.gpu_pool`) and
# the CPU node pools (shape: infra_assets/specs/node_pools.py; bounds: `EnvProfile.cpu_pools`).
AI_INTELLIGENCE_POOL = "ai-intelligence-pool"
DATA_INTELLIGENCE_POOL = "data-intelligence-pool"
BUSINESS_INTELLIGENCE_POOL = "business-intelligence-pool"


@dataclass(frozen=True, slots=True)
class PoolBounds:
    """Size range of a node pool and the size it starts at."""

    min_nodes: int
    max_nodes: int
    desired_nodes: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_nodes <= self.desired_nodes <= self.max_nodes:
            raise ValueError(f"pool bounds need 0 <= min <= desired <= max, got {self}")


@dataclass(frozen=True, slots=True)
class EnvProfile:
    """One environment: backends, executor, automation defaults, pool sizes, replicas, models and cooldowns."""

    name: Env
    services: Literal["samples", "live"]  # bundled sample payloads + DuckDB, or the real APIs and stores
    warehouse_kind: str  # Dagster kind of the warehouse assets
    vector_store_kind: str
    executor: ExecutorKind  # DuckDB has a single writer, so local runs stay in one process
    automation_running: bool  # sensors and schedules start RUNNING (else STOPPED until turned on)
    data_automation_running: bool  # the data plane's automation conditions (raw -> documents -> vectors) start RUNNING
    automation_interval_s: int  # how often the automation condition sensors evaluate
    embedder: Literal["wordllama", "tei"]  # the default; SOPHIA_EMBEDDER overrides in live mode
    gpu_pool: PoolBounds
    cpu_pools: Mapping[str, PoolBounds]  # per CPU node pool name (DATA_INTELLIGENCE_POOL, ...)
    mcp_replicas: int
    scale_up_cooldown_s: float  # every pool's autoscaler: no growth this soon after its size changed
    scale_down_cooldown_s: float  # ... and no shrinking this soon
    protect_stacks: bool  # Pulumi `protect` on resources whose deletion loses data (the ESC environment)

    @property
    def is_live(self) -> bool:
        return self.services == "live"


PROFILES: dict[str, EnvProfile] = {
    "local": EnvProfile(
        name="local",
        services="samples",
        warehouse_kind="duckdb",
        vector_store_kind="duckdb",
        executor="in_process",
        automation_running=False,
        data_automation_running=True,  # works out of the box: a dropped sample file flows to the vectors
        automation_interval_s=30,
        embedder="wordllama",
        gpu_pool=PoolBounds(0, 1, 1),
        cpu_pools={DATA_INTELLIGENCE_POOL: PoolBounds(0, 1, 1), BUSINESS_INTELLIGENCE_POOL: PoolBounds(0, 1, 0)},
        mcp_replicas=1,
        scale_up_cooldown_s=60.0,
        scale_down_cooldown_s=900.0,
        protect_stacks=False,
    ),
    "production": EnvProfile(
        name="production",
        services="live",
        warehouse_kind="snowflake",
        vector_store_kind="pinecone",
        executor="k8s_job",
        automation_running=True,
        data_automation_running=True,
        automation_interval_s=30,
        embedder="tei",
        gpu_pool=PoolBounds(1, 3, 1),
        cpu_pools={DATA_INTELLIGENCE_POOL: PoolBounds(1, 2, 1), BUSINESS_INTELLIGENCE_POOL: PoolBounds(1, 2, 1)},
        mcp_replicas=2,
        scale_up_cooldown_s=120.0,
        scale_down_cooldown_s=900.0,
        protect_stacks=True,
    ),
}
ENVS: tuple[str, ...] = tuple(PROFILES)


def profile(name: str) -> EnvProfile:
    """The profile called `name`; a clear error naming the known ones otherwise."""
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(ENVS)}; got {name!r}")
    return PROFILES[key]


_override: ContextVar[EnvProfile | None] = ContextVar("sophia_profile_override", default=None)


@contextmanager
def using_profile(env: str | EnvProfile | None) -> Iterator[EnvProfile]:
    """Within the block, `current_profile()` is `env` (for tests and CLIs that build another environment's
    definitions in-process); None keeps the current one."""
    chosen = current_profile() if env is None else env if isinstance(env, EnvProfile) else profile(env)
    token = _override.set(chosen)
    try:
        yield chosen
    finally:
        _override.reset(token)


def current_env() -> Env:
    """The name of the current profile."""
    return current_profile().name


def current_profile() -> EnvProfile:
    """The profile `SOPHIA_ENV` selects (default `local`): the only place the variable is read."""
    chosen = _override.get()
    if chosen is not None:
        return chosen
    return profile(os.environ.get(ENV_VAR, "").strip() or DEFAULT_ENV)


def sensor_status(running: bool) -> dg.DefaultSensorStatus:
    """How a sensor starts, from one of the profile's automation flags (RUNNING or STOPPED)."""
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
