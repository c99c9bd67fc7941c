"""The sandbox's state: every emulated resource, keyed by its case-insensitive ARM ID.

Resources are stored exactly as ARM returns them (`id`, `name`, `type`, `location`, `properties`,
...), indexed by collection (`{parent}/{childType}`) and by type, so listing a parent's children or a
type's resources costs what it returns, not the size of the world (a vault may hold tens of thousands
of Site Recovery items and jobs). What ARM keeps but never shows (who may approve connections on an
account, when an identity was created) lives in `meta`, keyed the same way. Provider modules share
this one store, so a private endpoint can reach the storage account it connects to, and the DNS
server can read zones.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from plmigrate.sandbox.arm import not_found, parse_resource_id
from plmigrate.sandbox.scenario import Scenario


def key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


_SCALARS = (str, int, float, bool, type(None))


def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (what resources are), a few times faster than copy.deepcopy:
    every read and write copies, and a page of 100 Site Recovery items is hundreds of copies."""
    kind = type(value)
    if kind is dict:
        return {k: clone(v) for k, v in value.items()}
    if kind is list:
        return [clone(v) for v in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


class World:
    """All emulated state, guarded by one re-entrant lock (handlers are short; ARM is the slow part)."""

    def __init__(self, scenario: Scenario) -> None:
        self.lock = threading.RLock()
        self.scenario = scenario
        self.resources: dict[str, dict[str, Any]] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        # Keys of `resources` by collection (a key without its last segment) and by type; kept by
        # put/delete/restore. Code that changes `resources` must go through them.
        self._collections: dict[str, set[str]] = {}
        self._types: dict[str, set[str]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        # Operations still running on resources, by resource key: until (epoch seconds), the
        # provisioningState to settle on, and what `lro` needs to word ARM's refusals. A resource
        # shows its in-progress state until `until`; every read settles what is due first.
        self.in_flight: dict[str, dict[str, Any]] = {}
        self.calls: Counter[tuple[str, str, int]] = Counter()
        # ARM requests by resource type and the api-version they sent: shows which version each
        # client (or raw request) used, e.g. that SDK and raw Site Recovery reads agree.
        self.api_versions: Counter[tuple[str, str]] = Counter()
        # time.monotonic() of the first ARM request's arrival and of the last answer (benchmarks
        # split a run into start-up, ARM window and tail with them).
        self.call_window: tuple[float, float] | None = None
        # TLS connections the server accepted (ARM and admin API share the port): shows whether
        # clients reuse their connections (plmigrate's share one pool per target).
        self.connections = 0
        # ARM requests being answered now, and the most at once: shows a client's pacing (plmigrate
        # keeps at most limits.arm_concurrency calls in flight per target).
        self.in_flight_calls = 0
        self.peak_in_flight = 0
        self.counters: Counter[str] = Counter()
        # Conditional forwarders on the on-prem DNS server: public zone -> VNet ID of the forwarder.
        self.dns_forwarders: dict[str, str] = {}
        # DNS names answered with a fixed stale IP (a fault), name -> IP.
        self.dns_stale: dict[str, str] = {}
        self.dns_faults: dict[str, str] = {}  # name or "*" -> "timeout" | "servfail"
        # Bumped by the server after every write (ARM or admin): lets a provider cache what it
        # derives from the whole world (Site Recovery's preconditions) until something changes.
        self.version = 0

    # -- resources ---------------------------------------------------------------------------
    def _settle(self) -> None:
        """End the operations whose time has come: the resource takes its final state."""
        if not self.in_flight:
            return
        now = time.time()
        for k, op in list(self.in_flight.items()):
            if op["until"] <= now:
                del self.in_flight[k]
                resource = self.resources.get(k)
                if resource is not None:
                    resource.setdefault("properties", {})["provisioningState"] = op["final"]
                    self.version += 1  # a change as much as a write's: what is cached on it is stale

    def busy(self, resource_id: str) -> dict[str, Any] | None:
        """The operation still running on a resource, if any."""
        with self.lock:
            self._settle()
            found = self.in_flight.get(key(resource_id))
            return dict(found) if found is not None else None

    def get(self, resource_id: str) -> dict[str, Any] | None:
        with self.lock:
            self._settle()
            found = self.resources.get(key(resource_id))
            return clone(found) if found is not None else None

    def require(self, resource_id: str) -> dict[str, Any]:
        found = self.get(resource_id)
        if found is None:
            raise not_found(resource_id)
        return found

    def exists(self, resource_id: str) -> bool:
        with self.lock:
            return key(resource_id) in self.resources

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            k = key(resource["id"])
            if k not in self.resources:
                self._index(k)
            self.resources[k] = clone(resource)
            return clone(resource)

    def delete(self, resource_id: str) -> dict[str, Any] | None:
        """Remove a resource and everything nested under it; return what was removed."""
        with self.lock:
            k = key(resource_id)
            removed = self.resources.pop(k, None)
            if removed is not None:
                self._unindex(k)
            self.in_flight.pop(k, None)
            nested = [
                c
                for coll in self._collections
                if coll == k or coll.startswith(k + "/")
                for c in self._collections[coll]
            ]
            for child in nested:
                del self.resources[child]
                self._unindex(child)
                self.in_flight.pop(child, None)
            self.meta.pop(k, None)
            return removed

    def _index(self, k: str) -> None:
        self._collections.setdefault(k.rsplit("/", 1)[0], set()).add(k)
        self._types.setdefault(parse_resource_id(k).get("type", "").lower(), set()).add(k)

    def _unindex(self, k: str) -> None:
        for index, name in (
            (self._collections, k.rsplit("/", 1)[0]),
            (self._types, parse_resource_id(k).get("type", "").lower()),
        ):
            found = index.get(name)
            if found is not None:
                found.discard(k)
                if not found:
                    del index[name]

    def child_keys(self, parent_id: str, child_type: str) -> list[str]:
        """The keys of the direct children `{parent_id}/{child_type}/{name}`, sorted, nothing copied."""
        with self.lock:
            return sorted(self._collections.get(key(parent_id) + "/" + child_type.lower().strip("/"), ()))

    def children(self, parent_id: str, child_type: str) -> list[dict[str, Any]]:
        """Direct children `{parent_id}/{child_type}/{name}` (child_type may hold `providers/...`)."""
        with self.lock:
            self._settle()
            return [clone(self.resources[k]) for k in self.child_keys(parent_id, child_type)]

    def type_keys(self, resource_type: str, scope: str = "") -> list[str]:
        """The keys of every resource of a type under a scope prefix, sorted, nothing copied."""
        prefix = key(scope) if scope else ""
        with self.lock:
            return sorted(k for k in self._types.get(resource_type.lower(), ()) if k.startswith(prefix))

    def by_type(self, resource_type: str, scope: str = "") -> list[dict[str, Any]]:
        """Every resource of a type (e.g. `Microsoft.Network/privateDnsZones`) under a scope prefix."""
        with self.lock:
            self._settle()
            return [clone(self.resources[k]) for k in self.type_keys(resource_type, scope)]

    def meta_of(self, resource_id: str) -> dict[str, Any]:
        """Mutable hidden facts about a resource (created on first use)."""
        with self.lock:
            return self.meta.setdefault(key(resource_id), {})

    # -- identities and counters -------------------------------------------------------------
    def new_guid(self) -> str:
        return str(uuid.uuid4())

    def next_number(self, name: str, start: int = 1) -> int:
        with self.lock:
            if name not in self.counters:
                self.counters[name] = start - 1
            self.counters[name] += 1
            return self.counters[name]

    def now(self) -> float:
        return time.time()

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            self._settle()
            return {
                "resources": copy.deepcopy(self.resources),
                "in_flight": copy.deepcopy(self.in_flight),
                "meta": copy.deepcopy(self.meta),
                "counters": dict(self.counters),
                "dns_forwarders": dict(self.dns_forwarders),
            }

    def restore(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.resources = data.get("resources", {})
            self._collections, self._types = {}, {}
            for k in self.resources:
                self._index(k)
            self.in_flight = data.get("in_flight", {})
            self.meta = data.get("meta", {})
            self.counters = Counter(data.get("counters", {}))
            self.dns_forwarders = data.get("dns_forwarders", {})

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=1, sort_keys=True))
        tmp.replace(path)

    def count_calls(
        self, method: str, resource_type: str, status: int, arrived: float | None = None, api_version: str = ""
    ) -> None:
        now = time.monotonic()
        with self.lock:
            self.in_flight_calls = max(0, self.in_flight_calls - 1)
            self.calls[(method, resource_type, status)] += 1
            self.api_versions[(resource_type, api_version)] += 1
            first = now if arrived is None else arrived
            self.call_window = (min(first, self.call_window[0]), now) if self.call_window else (first, now)

    def arrive(self) -> None:
        """An ARM request arrived; `count_calls` ends it. (A request the sandbox itself crashes on,
        which drops the connection unanswered, is never ended: it stays counted in flight.)"""
        with self.lock:
            self.in_flight_calls += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight_calls)

    def count_connection(self) -> None:
        with self.lock:
            self.connections += 1

    def forget_calls(self) -> None:
        """Start the call counts, api-versions, connection count, peak of calls in flight and call
        window afresh (after a set-up's calls)."""
        with self.lock:
            self.connections = 0
            self.peak_in_flight = self.in_flight_calls
            self.calls.clear()
            self.api_versions.clear()
            self.call_window = None

    def call_report(self) -> dict[str, Any]:
        with self.lock:
            rows = [
                {"method": m, "resource_type": t, "status": s, "count": n}
                for (m, t, s), n in sorted(self.calls.items())
            ]
            versions = [
                {"resource_type": t, "api_version": v, "count": n} for (t, v), n in sorted(self.api_versions.items())
            ]
        writes = sum(r["count"] for r in rows if r["method"] in {"PUT", "PATCH", "POST", "DELETE"})
        reads = sum(r["count"] for r in rows if r["method"] in {"GET", "HEAD"})
        throttled = sum(r["count"] for r in rows if r["status"] == 429)
        return {
            "calls": rows,
            "api_versions": versions,
            "reads": reads,
            "writes": writes,
            "throttled": throttled,
            "connections": self.connections,
            "peak_in_flight": self.peak_in_flight,
            "window": self.call_window,
        }
