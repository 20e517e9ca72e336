"""A Lambda Cloud GPU pool as a Pulumi dynamic resource.

Pool membership is discovered from the API on every operation: an instance belongs to the pool if its id is
recorded in the resource state, or if it has the pool's instance type and region and either carries the tag
``sophia-pool=<pool_name>`` or is named ``<name_prefix>-<digits>``. So instances launched by a run that
failed half-way (Python dynamic providers cannot return partial state to the engine) are adopted by the next
create/update, which then converges on `desired_nodes`.

Scaling: one launch call per instance (named ``<name_prefix>-NNN``, never reusing a number), scale-down
terminates the newest first (recorded launch time, then name number), healthy instances are never replaced.
Unhealthy instances being replaced are terminated only after the launches succeeded.

Transient launch failures (429, 5xx, timeouts, dropped connections the client does not retry itself) are
resumed within the same create/update: the provider waits a little, re-lists the instances, adopts any
instance the failed call did launch (found by its name and tag: a lost reply never causes a duplicate), and
launches only what is still missing, at most `MAX_LAUNCH_RESUMES` times in a row and within
`LAUNCH_RESUME_WINDOW_S`.

Partial failure: when a launch fails for good (insufficient capacity, invalid parameters, a bad key, or
transient failures beyond those bounds) the instances launched so far are kept and the operation raises
`LambdaPoolScalingError` ("launched k of n ..."). `pulumi up` fails visibly; the next `pulumi up` re-plans
from the real (listed) count. `diff` also reports an update whenever the recorded
`node_count` differs from `desired_nodes`, so drift or a short pool is always retried.

Diff: desired_nodes, ssh_key_names (future launches only), api_base_url and the intervals update in place;
pool_name, instance_type, region, name_prefix and file_system_names replace the pool, deleting it first.

Joining the cluster: `user_data` is the pool's `#cloud-config` template (`infra_assets/specs/cloud_init.py`) with
placeholders; each launch fills in the secret `join_token` (and the server's `admin_token`), the `server_url` and
the instance's name as the node name, and sends it as the launch's `user_data`. The filled document is never
stored in outputs or logs. Before any launch the instance type is checked against `GET /instance-types` (unknown
type or no capacity in the region: a clear, permanent error, nothing launched).

Scale-down drains first: when the pool joins a cluster (`user_data` set), each instance to terminate is cordoned
and drained as the Kubernetes node of its name (`drain.py`, with the secret `kubeconfig`, `drain_timeout_s` and the
explicit `force_drain`) and its Node deleted; a drain that fails or is refused stops the operation before anything
is terminated.

The API key is a secret input. It is never written to outputs; delete/read (which only receive outputs) use
the key captured by the provider object, which Pulumi serialises into the always-secret ``__provider`` state
field, with the LAMBDA_API_KEY environment variable as a fallback (e.g. after a key rotation).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from infra_assets.specs.cloud_init import fill_user_data

from .client import DEFAULT_BASE_URL, LambdaApiError, LambdaCloudClient, check_launchable
from .drain import DEFAULT_DRAIN_TIMEOUT_S, DrainError, drain_nodes
from .scaling import (
    GONE_STATUSES,
    MAX_INSTANCE_NAME_LEN,
    PoolInstance,
    instance_name,
    is_live,
    name_suffix,
    order_oldest_first,
    plan_scaling,
)

POOL_TAG_KEY = "sophia-pool"
API_KEY_ENV = "LAMBDA_API_KEY"
DEFAULT_READY_TIMEOUT_S = 600.0
READY_POLL_INTERVAL_S = 10.0
PROVIDER_KEY = "__provider"
MAX_LAUNCH_RESUMES = 5
"""Transient launch failures in a row that are resumed (re-list, launch what is missing) before giving up."""
LAUNCH_RESUME_WINDOW_S = 900.0
"""No resume starts later than this after the create/update began launching."""
RESUME_BACKOFF_S = 5.0
RESUME_BACKOFF_MAX_S = 60.0

REPLACE_KEYS = ("pool_name", "instance_type", "region", "name_prefix", "file_system_names")
"""Inputs whose change replaces the pool (delete first, then create)."""

_DEFAULTS: dict[str, Any] = {
    "file_system_names": [],
    "api_base_url": DEFAULT_BASE_URL,
    "min_request_interval_s": 1.0,
    "launch_interval_s": 10.0,
    "ready_timeout_s": DEFAULT_READY_TIMEOUT_S,
    "user_data": "",
    "server_url": "",
    "drain_timeout_s": DEFAULT_DRAIN_TIMEOUT_S,
    "force_drain": False,
}
SECRET_INPUTS = ("api_key", "join_token", "admin_token", "kubeconfig")
"""Inputs never echoed to outputs (Pulumi also stores them encrypted: `additional_secret_outputs`)."""
_INPUT_KEYS = (
    "pool_name",
    "instance_type",
    "region",
    "ssh_key_names",
    "file_system_names",
    "desired_nodes",
    "name_prefix",
    "api_base_url",
    "min_request_interval_s",
    "launch_interval_s",
    "ready_timeout_s",
    "user_data",
    "server_url",
    "drain_timeout_s",
    "force_drain",
)
_MAX_PREFIX_LEN = MAX_INSTANCE_NAME_LEN - 4  # room for "-NNN"


class LambdaPoolScalingError(Exception):
    """Scaling stopped part-way; the instances launched so far are kept (and adopted next time)."""

    def __init__(self, message: str, *, launched: int, requested: int, node_count: int, desired: int) -> None:
        super().__init__(message)
        self.launched = launched
        self.requested = requested
        self.node_count = node_count
        self.desired = desired


@dataclass(frozen=True)
class PoolSpec:
    """The pool's non-secret inputs, normalised (Pulumi delivers numbers as floats)."""

    pool_name: str
    instance_type: str
    region: str
    ssh_key_names: tuple[str, ...]
    file_system_names: tuple[str, ...]
    desired_nodes: int
    name_prefix: str
    api_base_url: str = DEFAULT_BASE_URL
    min_request_interval_s: float = 1.0
    launch_interval_s: float = 10.0
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    user_data: str = ""  # the #cloud-config template (placeholders, no secrets); empty: plain instances
    server_url: str = ""
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S
    force_drain: bool = False

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> PoolSpec:
        """Build from resource inputs or outputs (both carry the non-secret inputs)."""
        p = {**_DEFAULTS, **{k: v for k, v in props.items() if v is not None}}
        return cls(
            pool_name=str(p["pool_name"]),
            instance_type=str(p["instance_type"]),
            region=str(p["region"]),
            ssh_key_names=tuple(str(s) for s in p.get("ssh_key_names") or ()),
            file_system_names=tuple(str(s) for s in p.get("file_system_names") or ()),
            desired_nodes=max(0, int(p.get("desired_nodes") or 0)),
            name_prefix=str(p["name_prefix"]),
            api_base_url=str(p["api_base_url"]),
            min_request_interval_s=float(p["min_request_interval_s"]),
            launch_interval_s=float(p["launch_interval_s"]),
            ready_timeout_s=float(p["ready_timeout_s"]),
            user_data=str(p["user_data"] or ""),
            server_url=str(p["server_url"] or ""),
            drain_timeout_s=float(p["drain_timeout_s"]),
            force_drain=bool(p["force_drain"]),
        )

    def echo(self) -> dict[str, Any]:
        """The inputs as outputs (no secrets)."""
        return {
            "pool_name": self.pool_name,
            "instance_type": self.instance_type,
            "region": self.region,
            "ssh_key_names": list(self.ssh_key_names),
            "file_system_names": list(self.file_system_names),
            "desired_nodes": self.desired_nodes,
            "name_prefix": self.name_prefix,
            "api_base_url": self.api_base_url,
            "min_request_interval_s": self.min_request_interval_s,
            "launch_interval_s": self.launch_interval_s,
            "ready_timeout_s": self.ready_timeout_s,
            "user_data": self.user_data,
            "server_url": self.server_url,
            "drain_timeout_s": self.drain_timeout_s,
            "force_drain": self.force_drain,
        }


@dataclass(frozen=True)
class _Secrets:
    """The secret inputs a launch and a drain need (never in outputs, logs or errors)."""

    join_token: str = ""
    admin_token: str = ""
    kubeconfig: str = ""


@dataclass
class _Launches:
    """Progress of one create/update's launches (what the partial-failure message reports)."""

    requested: int  # instances missing when the operation started
    live_before: int
    launched: list[str]  # ids this operation launched, including ones adopted after a lost reply
    names: set[str]  # names this operation asked for
    sequence: int  # last name number used
    resumes: int = 0  # transient failures in a row


@dataclass(frozen=True)
class _Recorded:
    """What the resource state remembers about the pool."""

    launched_at: dict[str, float]
    name_sequence: int

    @classmethod
    def from_outputs(cls, outs: Mapping[str, Any]) -> _Recorded:
        launched = {str(k): float(v) for k, v in (outs.get("launched_at") or {}).items() if v is not None}
        for iid in outs.get("instance_ids") or ():
            launched.setdefault(str(iid), 0.0)
        return cls(launched, int(outs.get("name_sequence") or 0))


def _member(raw: Mapping[str, Any]) -> PoolInstance:
    return PoolInstance(
        id=str(raw["id"]),
        name=raw.get("name"),
        status=str(raw.get("status") or "booting"),
        ip=raw.get("ip") or None,
    )


def _nested_name(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value.get("name") if isinstance(value, Mapping) else None


def _is_member(raw: Mapping[str, Any], spec: PoolSpec, known_ids: Container[str]) -> bool:
    """Whether a listed instance belongs to the pool (recorded, or same type/region and tagged/named)."""
    if str(raw.get("id")) in known_ids:
        return True
    if _nested_name(raw, "instance_type") != spec.instance_type or _nested_name(raw, "region") != spec.region:
        return False
    tags = raw.get("tags") or []
    tagged = any(
        isinstance(t, Mapping) and t.get("key") == POOL_TAG_KEY and t.get("value") == spec.pool_name for t in tags
    )
    return tagged or name_suffix(raw.get("name"), spec.name_prefix) is not None


def _high_water(listing: Sequence[Mapping[str, Any]], spec: PoolSpec, known_ids: Container[str], recorded: int) -> int:
    """Highest name sequence number used by any member (including gone ones) or recorded in state."""
    used = [name_suffix(raw.get("name"), spec.name_prefix) for raw in listing if _is_member(raw, spec, known_ids)]
    return max([recorded] + [n for n in used if n is not None])


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return list(old) != list(new)
    return old != new


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == pulumi.runtime.rpc.UNKNOWN


class LambdaGpuPoolProvider(ResourceProvider):
    """CRUD for a pool of identical Lambda Cloud instances (one launch call per instance).

    Holds no client, lock or connection: Pulumi pickles it. Clients are built inside each method. The
    optional `api_key` (a plain str or a secret Output) is captured for delete/read; `sleep`/`clock`/
    `wall_clock` are injectable so tests never wait.
    """

    serialize_as_secret_always = True

    def __init__(
        self,
        api_key: pulumi.Input[str] | None = None,
        *,
        kubeconfig: pulumi.Input[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._captured_api_key = api_key
        self._captured_kubeconfig = kubeconfig
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return "LambdaGpuPoolProvider()"

    # ---- Pulumi entry points ---------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate inputs (unknown values are skipped); reasons never contain the API key."""
        failures: list[CheckFailure] = []

        def fail(prop: str, reason: str) -> None:
            failures.append(CheckFailure(prop, reason))

        for key in ("pool_name", "instance_type", "region", "name_prefix"):
            value = news.get(key)
            if not _is_unknown(value) and (not isinstance(value, str) or not value.strip()):
                fail(key, f"{key} must be a non-empty string")
        prefix = news.get("name_prefix")
        if isinstance(prefix, str) and len(prefix) > _MAX_PREFIX_LEN:
            fail("name_prefix", f"name_prefix must be at most {_MAX_PREFIX_LEN} characters")
        ssh = news.get("ssh_key_names")
        if not _is_unknown(ssh) and (not isinstance(ssh, list | tuple) or not ssh):
            fail("ssh_key_names", "ssh_key_names must name at least one SSH key")
        fs = news.get("file_system_names")
        if fs is not None and not _is_unknown(fs) and not isinstance(fs, list | tuple):
            fail("file_system_names", "file_system_names must be a list")
        desired = news.get("desired_nodes")
        if not _is_unknown(desired) and (
            isinstance(desired, bool) or not isinstance(desired, int | float) or desired < 0 or int(desired) != desired
        ):
            fail("desired_nodes", "desired_nodes must be an integer >= 0")
        for key in ("min_request_interval_s", "launch_interval_s", "ready_timeout_s"):
            value = news.get(key)
            if value is not None and not _is_unknown(value) and (not isinstance(value, int | float) or value < 0):
                fail(key, f"{key} must be a number >= 0")
        api_key = news.get("api_key")
        if api_key is not None and not _is_unknown(api_key) and (not isinstance(api_key, str) or not api_key):
            fail("api_key", "api_key must be a non-empty string")
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """desired_nodes (and other settings) change in place; type/region/pool identity replace."""
        old = {**_DEFAULTS, **{k: v for k, v in olds.items() if v is not None}}
        new = {**_DEFAULTS, **{k: v for k, v in news.items() if v is not None}}
        replaces = [k for k in REPLACE_KEYS if _differs(old.get(k), new.get(k))]
        changed = [k for k in _INPUT_KEYS if _differs(old.get(k), new.get(k))]
        short = old.get("node_count") is not None and _differs(old.get("node_count"), new.get("desired_nodes"))
        old_provider, new_provider = olds.get(PROVIDER_KEY), news.get(PROVIDER_KEY)
        rekeyed = (
            isinstance(old_provider, str)
            and isinstance(new_provider, str)
            and not _is_unknown(new_provider)
            and old_provider != new_provider
        )
        return DiffResult(
            changes=bool(replaces or changed or short or rekeyed),
            replaces=replaces,
            stables=[],
            delete_before_replace=True if replaces else None,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Launch the pool (adopting any members left by an earlier failed attempt)."""
        spec = PoolSpec.from_props(props)
        outs = self._converge(spec, self._api_key(props), _Recorded({}, 0), self._secrets(props))
        return CreateResult(f"lambda-gpu-pool:{spec.pool_name}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Scale in place to the new desired_nodes (newest instances terminated first)."""
        spec = PoolSpec.from_props(news)
        return UpdateResult(
            self._converge(spec, self._api_key(news), _Recorded.from_outputs(olds), self._secrets(news))
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Terminate every pool member that is not already terminating/terminated."""
        spec = PoolSpec.from_props(props)
        recorded = _Recorded.from_outputs(props)
        with self._client(spec, self._api_key(props)) as client:
            members = [_member(raw) for raw in client.list_instances() if _is_member(raw, spec, recorded.launched_at)]
            present = [m for m in members if m.status not in GONE_STATUSES]
            self._drain(spec, self._secrets(props), [m.name or m.id for m in present])
            client.terminate([m.id for m in present])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh the outputs from the live instance list."""
        spec = PoolSpec.from_props(props)
        recorded = _Recorded.from_outputs(props)
        with self._client(spec, self._api_key(props)) as client:
            listing = client.list_instances()
        launched_at = self._stamp(listing, spec, recorded.launched_at)
        return ReadResult(id_, self._outputs(spec, listing, launched_at, recorded.name_sequence))

    # ---- convergence ------------------------------------------------------------------------------

    def _converge(self, spec: PoolSpec, api_key: str, recorded: _Recorded, secrets: _Secrets) -> dict[str, Any]:
        with self._client(spec, api_key) as client:
            for value in (secrets.join_token, secrets.admin_token):
                client.add_secret(value)
            listing = client.list_instances()
            launched_at = self._stamp(listing, spec, recorded.launched_at)
            members = self._members(listing, spec, launched_at)
            plan = plan_scaling(members, spec.desired_nodes)
            if plan.launch:
                check_launchable(client.instance_types(), spec.instance_type, spec.region)
            progress = _Launches(
                requested=plan.launch,
                live_before=sum(1 for m in members if is_live(m.status)),
                launched=[],
                names=set(),
                sequence=_high_water(listing, spec, launched_at, recorded.name_sequence),
            )
            deadline = self._clock() + LAUNCH_RESUME_WINDOW_S
            while not self._launch(client, spec, plan.launch, launched_at, progress, deadline, secrets):
                # A transient failure: the launch may have happened. Re-list, adopt it if so, re-plan.
                listing = client.list_instances()
                self._adopt(listing, spec, launched_at, progress)
                plan = plan_scaling(self._members(listing, spec, launched_at), spec.desired_nodes)
                # Reuse the failed call's number only if no instance carries it.
                progress.sequence = _high_water(listing, spec, launched_at, progress.sequence - 1)
            names = {m.id: m.name or m.id for m in self._members(client.list_instances(), spec, launched_at)}
            self._drain(spec, secrets, [names.get(iid, iid) for iid in plan.terminate])
            client.terminate(plan.terminate)
            for iid in plan.terminate:
                launched_at.pop(iid, None)
            listing = self._wait_until_ready(client, spec, launched_at)
        return self._outputs(spec, listing, launched_at, progress.sequence)

    def _launch(
        self,
        client: LambdaCloudClient,
        spec: PoolSpec,
        count: int,
        launched_at: dict[str, float],
        progress: _Launches,
        deadline: float,
        secrets: _Secrets = _Secrets(),
    ) -> bool:
        """Launch `count` instances; False after a transient failure worth resuming (having waited a bit).

        Raises `LambdaPoolScalingError` on a permanent failure or when resuming is out of attempts or time.
        """
        for _ in range(count):
            progress.sequence += 1
            name = instance_name(spec.name_prefix, progress.sequence)
            progress.names.add(name)
            try:
                iid = client.launch_one(
                    spec.region,
                    spec.instance_type,
                    spec.ssh_key_names,
                    spec.file_system_names,
                    name,
                    tags=[{"key": POOL_TAG_KEY, "value": spec.pool_name}],
                    user_data=self._user_data(spec, secrets, name),
                )
            except LambdaApiError as exc:
                resumable = exc.transient and progress.resumes < MAX_LAUNCH_RESUMES and self._clock() < deadline
                if not resumable:
                    raise self._partial_failure(spec, exc, progress) from exc
                progress.resumes += 1
                wait = min(RESUME_BACKOFF_MAX_S, RESUME_BACKOFF_S * 2 ** (progress.resumes - 1))
                pulumi.log.warn(
                    f"Lambda GPU pool {spec.pool_name!r}: launching {name} failed ({exc.code}); re-listing "
                    f"instances in {wait:.0f}s to launch only what is missing "
                    f"(attempt {progress.resumes} of {MAX_LAUNCH_RESUMES})."
                )
                self._sleep(wait)
                return False
            progress.resumes = 0
            progress.launched.append(iid)
            launched_at[iid] = self._wall_clock()
        return True

    def _adopt(
        self, listing: Sequence[Mapping[str, Any]], spec: PoolSpec, launched_at: dict[str, float], progress: _Launches
    ) -> None:
        """Record instances this operation launched whose reply was lost (found by name), as launched now."""
        for raw in listing:
            iid = str(raw.get("id"))
            fresh = iid not in launched_at and raw.get("name") in progress.names
            if fresh and _is_member(raw, spec, launched_at) and str(raw.get("status")) not in GONE_STATUSES:
                progress.launched.append(iid)
                launched_at[iid] = self._wall_clock()
        launched_at.update(self._stamp(listing, spec, launched_at))

    def _partial_failure(self, spec: PoolSpec, exc: LambdaApiError, progress: _Launches) -> LambdaPoolScalingError:
        launched = progress.launched
        node_count = progress.live_before + len(launched)
        kept = f" (kept: {', '.join(launched)})" if launched else ""
        message = (
            f"Lambda GPU pool {spec.pool_name!r}: launched {len(launched)} of {progress.requested} requested "
            f"{spec.instance_type} instances in {spec.region}{kept}; the pool now has {node_count} of "
            f"{spec.desired_nodes} desired nodes. Launched instances are kept and tagged "
            f"{POOL_TAG_KEY}={spec.pool_name}; the next `pulumi up` resumes from the real count. Cause: {exc}"
        )
        return LambdaPoolScalingError(
            message,
            launched=len(launched),
            requested=progress.requested,
            node_count=node_count,
            desired=spec.desired_nodes,
        )

    def _wait_until_ready(
        self, client: LambdaCloudClient, spec: PoolSpec, launched_at: Mapping[str, float]
    ) -> list[dict[str, Any]]:
        """Poll until every live member is past booting and has an IP, or until ready_timeout_s."""
        deadline = self._clock() + spec.ready_timeout_s
        while True:
            listing = client.list_instances()
            pending = [
                m.name or m.id
                for m in self._members(listing, spec, launched_at)
                if is_live(m.status) and (m.status == "booting" or not m.ip)
            ]
            if not pending:
                return listing
            if self._clock() >= deadline:
                pulumi.log.warn(
                    f"Lambda GPU pool {spec.pool_name!r}: {len(pending)} instance(s) not ready after "
                    f"{spec.ready_timeout_s:.0f}s ({', '.join(pending)}); their IPs are empty until refresh."
                )
                return listing
            self._sleep(READY_POLL_INTERVAL_S)

    # ---- joining and draining ---------------------------------------------------------------------

    def _user_data(self, spec: PoolSpec, secrets: _Secrets, node_name: str) -> str | None:
        """The pool's cloud-config with the token, server URL and node name filled in (None: plain instances)."""
        if not spec.user_data:
            return None
        return fill_user_data(
            spec.user_data,
            token=secrets.join_token,
            server_url=spec.server_url,
            node_name=node_name,
            admin_token=secrets.admin_token,
        )

    def _drain(self, spec: PoolSpec, secrets: _Secrets, node_names: list[str]) -> None:
        """Drain the nodes of instances about to be terminated (pools that join a cluster only)."""
        if not node_names or not spec.user_data:
            return
        if not secrets.kubeconfig:
            raise LambdaPoolScalingError(
                f"Lambda pool {spec.pool_name!r}: refusing to terminate {', '.join(node_names)} without draining "
                "them: no kubeconfig (the cluster stack's `kubeconfig` output) was given",
                launched=0,
                requested=0,
                node_count=-1,
                desired=spec.desired_nodes,
            )
        settings = {
            "timeout_s": spec.drain_timeout_s,
            "force": spec.force_drain,
            "sleep": self._sleep,
            "clock": self._clock,
        }
        try:
            for report in drain_nodes(secrets.kubeconfig, node_names, settings):
                pulumi.log.info(
                    f"Lambda pool {spec.pool_name!r}: drained {report.node} (evicted {len(report.evicted)}, "
                    f"forced {len(report.forced)}{', ' + report.skipped if report.skipped else ''})"
                )
        except DrainError as exc:
            raise LambdaPoolScalingError(
                f"Lambda pool {spec.pool_name!r}: scale-down stopped before terminating anything: {exc}",
                launched=0,
                requested=0,
                node_count=-1,
                desired=spec.desired_nodes,
            ) from None

    # ---- helpers ----------------------------------------------------------------------------------

    def _members(
        self, listing: Sequence[Mapping[str, Any]], spec: PoolSpec, launched_at: Mapping[str, float]
    ) -> list[PoolInstance]:
        """Present (not gone) pool members with their recorded launch times."""
        members = []
        for raw in listing:
            if not _is_member(raw, spec, launched_at):
                continue
            member = _member(raw)
            if member.status in GONE_STATUSES:
                continue
            members.append(PoolInstance(member.id, member.name, member.status, member.ip, launched_at.get(member.id)))
        return members

    def _stamp(
        self, listing: Sequence[Mapping[str, Any]], spec: PoolSpec, recorded: Mapping[str, float]
    ) -> dict[str, float]:
        """Launch times for present members; adopted (unrecorded) members are stamped now, i.e. newest."""
        now = self._wall_clock()
        stamped: dict[str, float] = {}
        for raw in listing:
            if _is_member(raw, spec, recorded) and str(raw.get("status")) not in GONE_STATUSES:
                iid = str(raw["id"])
                stamped[iid] = recorded.get(iid, now)
        return stamped

    def _outputs(
        self,
        spec: PoolSpec,
        listing: Sequence[Mapping[str, Any]],
        launched_at: Mapping[str, float],
        name_sequence: int,
    ) -> dict[str, Any]:
        members = self._members(listing, spec, launched_at)
        live = order_oldest_first([m for m in members if is_live(m.status)])
        sequence = max([name_sequence] + [name_suffix(m.name, spec.name_prefix) or 0 for m in members])
        return {
            **spec.echo(),
            "instance_ids": [m.id for m in live],
            "instance_names": [m.name or "" for m in live],
            "instance_ips": [m.ip or "" for m in live],
            "node_count": len(live),
            "launched_at": {m.id: launched_at[m.id] for m in members if m.id in launched_at},
            "name_sequence": sequence,
        }

    def _secrets(self, props: Mapping[str, Any]) -> _Secrets:
        """The secret join/drain inputs (the kubeconfig falls back to the one captured for delete)."""

        def value(key: str, captured: Any = None) -> str:
            raw = props.get(key)
            if isinstance(raw, str) and raw and not _is_unknown(raw):
                return raw
            if isinstance(captured, pulumi.Output):
                try:
                    captured = captured.get()
                except Exception:  # only readable after deserialisation inside the provider process
                    captured = None
            return captured if isinstance(captured, str) else ""

        return _Secrets(value("join_token"), value("admin_token"), value("kubeconfig", self._captured_kubeconfig))

    def _api_key(self, props: Mapping[str, Any]) -> str:
        """The key from the inputs, else the captured one, else $LAMBDA_API_KEY."""
        key = props.get("api_key")
        if isinstance(key, str) and key and not _is_unknown(key):
            return key
        captured: Any = self._captured_api_key
        if isinstance(captured, pulumi.Output):
            try:
                captured = captured.get()
            except Exception:  # only readable after deserialisation inside the provider process
                captured = None
        if isinstance(captured, str) and captured:
            return captured
        env = os.environ.get(API_KEY_ENV)
        if env:
            return env
        raise LambdaApiError(
            "global/invalid-api-key", f"no Lambda Cloud API key available (inputs, provider or ${API_KEY_ENV})", None
        )

    def _client(self, spec: PoolSpec, api_key: str) -> LambdaCloudClient:
        return LambdaCloudClient(
            api_key,
            spec.api_base_url,
            min_request_interval_s=spec.min_request_interval_s,
            launch_interval_s=spec.launch_interval_s,
            sleep=self._sleep,
            clock=self._clock,
        )


class LambdaGpuPool(pulumi.dynamic.Resource, module="lambda_cloud", name="GpuPool"):
    """A pool of `desired_nodes` identical Lambda Cloud instances named `<name_prefix>-NNN` (any pool: GPU, CPU,
    the k3s server); with `user_data` they join the cluster on boot and are drained before termination."""

    instance_ids: pulumi.Output[list[str]]
    """Live (booting/active) instance ids, oldest first."""
    instance_ips: pulumi.Output[list[str]]
    """Public IPs aligned with instance_ids ("" while an instance has none yet)."""
    instance_names: pulumi.Output[list[str]]
    node_count: pulumi.Output[int]
    launched_at: pulumi.Output[dict[str, float]]
    """Recorded launch time (epoch seconds) per member id; drives newest-first scale-down."""
    name_sequence: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        pool_name: pulumi.Input[str],
        instance_type: pulumi.Input[str],
        region: pulumi.Input[str],
        ssh_key_names: pulumi.Input[Sequence[pulumi.Input[str]]],
        file_system_names: pulumi.Input[Sequence[pulumi.Input[str]]],
        desired_nodes: pulumi.Input[int],
        name_prefix: pulumi.Input[str],
        api_key: pulumi.Input[str],
        api_base_url: pulumi.Input[str] = DEFAULT_BASE_URL,
        min_request_interval_s: pulumi.Input[float] = 1.0,
        launch_interval_s: pulumi.Input[float] = 10.0,
        ready_timeout_s: pulumi.Input[float] = DEFAULT_READY_TIMEOUT_S,
        user_data: pulumi.Input[str] = "",
        server_url: pulumi.Input[str] = "",
        join_token: pulumi.Input[str] | None = None,
        admin_token: pulumi.Input[str] | None = None,
        kubeconfig: pulumi.Input[str] | None = None,
        drain_timeout_s: pulumi.Input[float] = DEFAULT_DRAIN_TIMEOUT_S,
        force_drain: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret_key = pulumi.Output.secret(api_key)
        secret_kubeconfig = pulumi.Output.secret(kubeconfig) if kubeconfig is not None else None
        props: dict[str, Any] = {
            "pool_name": pool_name,
            "instance_type": instance_type,
            "region": region,
            "ssh_key_names": ssh_key_names,
            "file_system_names": file_system_names,
            "desired_nodes": desired_nodes,
            "name_prefix": name_prefix,
            "api_key": secret_key,
            "api_base_url": api_base_url,
            "min_request_interval_s": min_request_interval_s,
            "launch_interval_s": launch_interval_s,
            "ready_timeout_s": ready_timeout_s,
            "user_data": user_data,
            "server_url": server_url,
            "join_token": pulumi.Output.secret(join_token) if join_token is not None else None,
            "admin_token": pulumi.Output.secret(admin_token) if admin_token is not None else None,
            "kubeconfig": secret_kubeconfig,
            "drain_timeout_s": drain_timeout_s,
            "force_drain": force_drain,
            "instance_ids": None,
            "instance_ips": None,
            "instance_names": None,
            "node_count": None,
            "launched_at": None,
            "name_sequence": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_INPUTS)))
        provider = LambdaGpuPoolProvider(api_key=secret_key, kubeconfig=secret_kubeconfig)
        super().__init__(provider, resource_name, props, opts)
