"""A local stand-in for the Lambda Cloud API v1 (http.server on 127.0.0.1, random port).

Implements GET /api/v1/instances, GET /api/v1/instances/{id}, POST /api/v1/instance-operations/launch (one
instance per call; a `quantity` field is recorded and ignored, or rejected with `reject_quantity=True`),
(with an optional plain-text `user_data` of at most 1 MiB), POST /api/v1/instance-operations/terminate and
GET /api/v1/instance-types, with the documented shapes and
`{error:{code,message,suggestion?}}` errors. Checks Basic (key as user) or Bearer auth. Instances go
booting -> active after `boot_lists` listings; terminated ones go terminating -> terminated -> gone.

Faults: `inject_errors` answers an error before a request is carried out; `lose_replies` carries requests out
and then answers an error or drops the connection (the reply is lost); `inject_random_faults(rate, seed=...)` does
either at random, reproducibly, and records each fault in `fault_log`.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .http import Injected, RecordedRequest, Reply, StandinServer

PREFIX = "/api/v1"
USER_DATA_MAX_BYTES = 1024 * 1024  # the launch API's limit on `user_data` (plain-text cloud-init)

INSTANCE_TYPES: dict[str, dict[str, Any]] = {
    "gpu_1x_a10": {
        "name": "gpu_1x_a10",
        "description": "1x A10 (24 GB PCIe)",
        "gpu_description": "A10 (24 GB PCIe)",
        "price_cents_per_hour": 75,
        "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1},
    },
    "cpu_4x_large": {
        "name": "cpu_4x_large",
        "description": "4x vCPU, 16 GiB",
        "gpu_description": "",
        "price_cents_per_hour": 10,
        "specs": {"vcpus": 4, "memory_gib": 16, "storage_gib": 100, "gpus": 0},
    },
    "cpu_8x_large": {
        "name": "cpu_8x_large",
        "description": "8x vCPU, 32 GiB",
        "gpu_description": "",
        "price_cents_per_hour": 20,
        "specs": {"vcpus": 8, "memory_gib": 32, "storage_gib": 200, "gpus": 0},
    },
    "gpu_8x_h100_sxm5": {
        "name": "gpu_8x_h100_sxm5",
        "description": "8x H100 (80 GB SXM5)",
        "gpu_description": "H100 (80 GB SXM5)",
        "price_cents_per_hour": 2392,
        "specs": {"vcpus": 208, "memory_gib": 1800, "storage_gib": 24780, "gpus": 8},
    },
}
REGIONS = {"us-east-1": "Virginia, USA", "us-west-1": "California, USA"}


@dataclass
class LambdaRequest:
    """One request as received (JSON body parsed)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Fault:
    """One injected failure: `rejected` (answered `status` before being carried out), `dropped` (connection
    closed before), or `lost` (carried out, then answered `status` or, with status None, dropped)."""

    kind: str
    status: int | None

    def reply(self) -> Reply | None:
        """What the client gets (None: the connection is dropped)."""
        if self.status is None:
            return None
        if self.status in (502, 504):  # gateways answer in plain text
            return Reply(self.status, f"{self.status} gateway error".encode())
        code = {429: "global/rate-limited", 503: "provider/internal-unavailable"}.get(
            self.status, "global/internal-error"
        )
        return Reply(self.status, _error(code, "Injected failure from the stand-in."), {"Retry-After": "1"})


RANDOM_FAULTS: tuple[Fault, ...] = (
    *(Fault("rejected", status) for status in (429, 500, 502, 503, 504)),
    Fault("dropped", None),
    *(Fault("lost", status) for status in (500, 502, 504, None)),
)


@dataclass(frozen=True)
class FaultRecord:
    """A random fault as it happened."""

    method: str
    path: str
    fault: Fault


@dataclass
class _Instance:
    data: dict[str, Any]
    lists_seen: int = 0


@dataclass
class LambdaCloudStandIn(StandinServer):
    """Context manager running the stand-in; `base_url` is the `/api/v1` root to give the client.

    `requests` holds a `LambdaRequest` per call.
    """

    unauthorized_body = {
        "error": {"code": "global/invalid-api-key", "message": "API key was invalid, expired, or deleted."}
    }
    content_type = "application/json"
    protocol_version = "HTTP/1.1"
    api_prefix = PREFIX
    api_key: str = field(default="test-lambda-key", repr=False)
    capacity: int | None = None
    """Max instances not yet terminating; launches beyond it get 400 insufficient-capacity."""
    boot_lists: int = 1
    """Listings an instance stays `booting` for before it becomes `active` (with an IP)."""
    reject_quantity: bool = False

    def __post_init__(self) -> None:
        super().__init__()
        self._instances: dict[str, _Instance] = {}
        self._ip_counter = 0
        self._lost: list[Injected] = []
        self._random_faults: tuple[random.Random, float, Callable[[RecordedRequest], bool]] | None = None
        self.fault_log: list[FaultRecord] = []

    # ---- test controls ------------------------------------------------------------------------------

    def inject_errors(
        self,
        count: int,
        status: int = 429,
        retry_after: str | None = "0",
        code: str = "global/rate-limited",
        route: tuple[str, str] | None = None,
    ) -> None:
        """Answer the next `count` requests (only those to `route`=(method, path under /api/v1) if given)
        with `status`, before auth and routing."""
        target = None if route is None else (route[0], PREFIX + route[1])
        body = _error(code, "Injected failure from the stand-in.")
        self.inject(Injected(count, status, retry_after, body=body, applies=_on_route(target)))

    def lose_replies(self, count: int, status: int | None = None, route: tuple[str, str] | None = None) -> None:
        """Carry out the next `count` requests (only those to `route` if given), then answer `status` instead
        of the result, or drop the connection when `status` is None: the work is done, the reply is lost."""
        target = None if route is None else (route[0], PREFIX + route[1])
        with self._lock:
            self._lost.append(Injected(count, status or 0, drop=status is None, applies=_on_route(target)))

    def inject_random_faults(self, rate: float, *, seed: int = 0, route: tuple[str, str] | None = None) -> None:
        """From now on fail each request (only those to `route` if given) with probability `rate`, with a fault
        drawn from `RANDOM_FAULTS`; `seed` makes the sequence reproducible. `rate=0` turns it off."""
        target = None if route is None else (route[0], PREFIX + route[1])
        with self._lock:
            self._random_faults = (random.Random(seed), rate, _on_route(target)) if rate > 0 else None

    def add_instance(self, name: str, instance_type: str, region: str, status: str = "active", **extra: Any) -> str:
        """Create an instance directly (e.g. one not managed by the pool); returns its id."""
        with self._lock:
            iid = self._new_instance(name, instance_type, region, ["ops-key"], [], extra.pop("tags", None))
            self._instances[iid].data.update(extra)
            self._set_status(self._instances[iid], status)
            return iid

    def set_status(self, instance_id: str, status: str) -> None:
        """Force an instance's status (e.g. `unhealthy`, `preempted`)."""
        with self._lock:
            self._set_status(self._instances[instance_id], status)

    def instances(self) -> list[dict[str, Any]]:
        """Snapshot of all instances the stand-in still knows."""
        with self._lock:
            return [json.loads(json.dumps(i.data)) for i in self._instances.values()]

    def present_ids(self) -> list[str]:
        """Ids of instances not terminating/terminated."""
        return [i["id"] for i in self.instances() if i["status"] not in ("terminating", "terminated")]

    def calls(self, method: str, path: str) -> list[LambdaRequest]:
        """Recorded requests for one route (path relative to /api/v1)."""
        return [r for r in self.requests if r.method == method and r.path == PREFIX + path]

    # ---- behaviour ----------------------------------------------------------------------------------

    def authorized(self, request: RecordedRequest) -> bool:
        header = request.headers.get("authorization")
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value == self.api_key
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(value).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return False
            return user == self.api_key
        return False

    def _set_status(self, inst: _Instance, status: str) -> None:
        inst.data["status"] = status
        if status == "active" and not inst.data.get("ip"):
            self._ip_counter += 1
            inst.data["ip"] = f"192.0.2.{self._ip_counter}"
            inst.data["private_ip"] = f"10.0.0.{self._ip_counter}"
            inst.data["hostname"] = f"{inst.data['id']}.cloud.lambda.ai"
        available = status in ("active", "unhealthy")
        inst.data["actions"] = {
            "restart": {"available": available},
            "terminate": {"available": status not in ("terminating", "terminated")},
        }

    def _new_instance(
        self,
        name: str | None,
        type_name: str,
        region: str,
        ssh_key_names: list[str],
        file_system_names: list[str],
        tags: list[dict[str, str]] | None,
    ) -> str:
        iid = uuid.uuid4().hex
        data: dict[str, Any] = {
            "id": iid,
            "status": "booting",
            "ssh_key_names": list(ssh_key_names),
            "file_system_names": list(file_system_names),
            "region": {"name": region, "description": REGIONS.get(region, region)},
            "instance_type": dict(INSTANCE_TYPES[type_name]),
        }
        if name is not None:
            data["name"] = name
        if tags:
            data["tags"] = [{"key": t["key"], "value": t["value"]} for t in tags]
        inst = _Instance(data)
        self._set_status(inst, "booting")
        self._instances[iid] = inst
        return iid

    def _present_count(self) -> int:
        return sum(1 for i in self._instances.values() if i.data["status"] not in ("terminating", "terminated"))

    def _advance_after_list(self) -> None:
        for iid, inst in list(self._instances.items()):
            inst.lists_seen += 1
            status = inst.data["status"]
            if status == "booting" and inst.lists_seen >= self.boot_lists:
                self._set_status(inst, "active")
            elif status == "terminating":
                self._set_status(inst, "terminated")
            elif status == "terminated":
                del self._instances[iid]

    def record(self, request: RecordedRequest) -> None:
        self.requests.append(LambdaRequest(request.method, request.path, request.headers, _json_body(request.body)))

    def handle(self, request: RecordedRequest) -> Reply | None:
        """Faults first (see the module doc), then the default flow (record, injected failure, auth, route),
        all under the lock the controls take."""
        with self._lock:
            fault = self._take_lost(request) or self._draw_fault(request)
            if fault is not None and fault.kind != "lost":
                self.record(request)
                return fault.reply()
            reply = super().handle(request)
            return reply if fault is None else fault.reply()

    def _take_lost(self, request: RecordedRequest) -> Fault | None:
        for injected in self._lost:
            if injected.remaining > 0 and injected.applies(request):
                injected.remaining -= 1
                return Fault("lost", None if injected.drop else injected.status)
        return None

    def _draw_fault(self, request: RecordedRequest) -> Fault | None:
        if self._random_faults is None:
            return None
        rng, rate, applies = self._random_faults
        if not applies(request) or rng.random() >= rate:
            return None
        fault = rng.choice(RANDOM_FAULTS)
        self.fault_log.append(FaultRecord(request.method, request.path, fault))
        return fault

    def route(self, request: RecordedRequest) -> Reply:
        return Reply(*self._route(request.method, request.path, _json_body(request.body)))

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any, dict]:
        if not path.startswith(PREFIX + "/"):
            return 404, _error("global/object-does-not-exist", "Unknown route."), {}
        route = path[len(PREFIX) :]
        if method == "GET" and route == "/instances":
            data = [json.loads(json.dumps(i.data)) for i in self._instances.values()]
            self._advance_after_list()
            return 200, {"data": data}, {}
        if method == "GET" and route.startswith("/instances/"):
            inst = self._instances.get(route.removeprefix("/instances/"))
            if inst is None:
                return 404, _error("global/object-does-not-exist", "Specified instance does not exist."), {}
            return 200, {"data": inst.data}, {}
        if method == "GET" and route == "/instance-types":
            return 200, {"data": self._catalog()}, {}
        if method == "POST" and route == "/instance-operations/launch":
            return self._launch(body)
        if method == "POST" and route == "/instance-operations/terminate":
            return self._terminate(body)
        return 404, _error("global/object-does-not-exist", "Unknown route."), {}

    def _catalog(self) -> dict[str, Any]:
        full = self.capacity is not None and self._present_count() >= self.capacity
        regions = [] if full else [{"name": k, "description": v} for k, v in REGIONS.items()]
        return {
            name: {"instance_type": dict(spec), "regions_with_capacity_available": list(regions)}
            for name, spec in INSTANCE_TYPES.items()
        }

    def _launch(self, body: Any) -> tuple[int, Any, dict]:
        if not isinstance(body, dict):
            return 400, _error("global/invalid-parameters", "Body must be a JSON object."), {}
        user_data = body.get("user_data")
        if user_data is not None and (not isinstance(user_data, str) or len(user_data.encode()) > USER_DATA_MAX_BYTES):
            return 400, _error("global/invalid-parameters", "user_data must be text of at most 1 MiB."), {}
        if self.reject_quantity and "quantity" in body:
            return 400, _error("global/invalid-parameters", "Unknown field 'quantity'."), {}
        type_name, region = body.get("instance_type_name"), body.get("region_name")
        ssh_keys, name = body.get("ssh_key_names"), body.get("name")
        if type_name not in INSTANCE_TYPES or region not in REGIONS:
            return 400, _error("global/invalid-parameters", "Unknown instance type or region."), {}
        if not isinstance(ssh_keys, list) or not ssh_keys:
            return 400, _error("global/invalid-parameters", "ssh_key_names must name one SSH key."), {}
        if name is not None and (not isinstance(name, str) or len(name) > 64):
            return 400, _error("global/invalid-parameters", "name must be at most 64 characters."), {}
        if self.capacity is not None and self._present_count() >= self.capacity:
            return (
                400,
                _error(
                    "instance-operations/launch/insufficient-capacity",
                    "Not enough capacity to fulfill launch request.",
                    "Choose an instance type with more availability, or try again later.",
                ),
                {},
            )
        iid = self._new_instance(
            name, type_name, region, ssh_keys, body.get("file_system_names") or [], body.get("tags")
        )
        return 200, {"data": {"instance_ids": [iid]}}, {}

    def _terminate(self, body: Any) -> tuple[int, Any, dict]:
        ids = body.get("instance_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return 400, _error("global/invalid-parameters", "instance_ids must be a non-empty list."), {}
        missing = [i for i in ids if i not in self._instances]
        if missing:
            return 404, _error("global/object-does-not-exist", f"Instances not found: {missing}"), {}
        terminated = []
        for iid in ids:
            inst = self._instances[iid]
            if inst.data["status"] not in ("terminating", "terminated"):
                self._set_status(inst, "terminating")
            terminated.append(json.loads(json.dumps(inst.data)))
        return 200, {"data": {"terminated_instances": terminated}}, {}


def _error(code: str, message: str, suggestion: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if suggestion:
        error["suggestion"] = suggestion
    return {"error": error}


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"__invalid_json__": raw.decode(errors="replace")}


def _on_route(route: tuple[str, str] | None) -> Callable[[RecordedRequest], bool]:
    return lambda request: route is None or route == (request.method, request.path)
