"""Named fault profiles: how Azure misbehaves on a bad day, as changes to a sandbox scenario.

A profile is data: the Scenario fields it changes (faults, latencies, throttling, identity
propagation), the on-prem DNS faults it applies through the admin API for a limited time, and the
business-unit settings a run needs to ride it out (a fault that outlasts every timeout is an
outage, not a fault). Every fault here is transient on purpose: the point is that retries and
backoff get through them, so a wave under any profile ends where a fault-free wave ends.

Used by the fault matrix (tests/pipeline/test_faults.py) and the chaos benchmark (bench/chaos.py):

    scenario = apply(PROFILES["5xx"], scenario_dict)
    sandbox = Sandbox(Scenario.model_validate(scenario)); sandbox.start()
    dns = start_dns_faults(admin_client, PROFILES["dns-timeout"])   # no-op when the profile has none
    ... run the wave ...
    stats = dns.stop()
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from plmigrate.sandbox.scenario import Scenario

BLOB_ZONE = "privatelink.blob.core.windows.net"
_A_RECORD_TYPE = "/providers/microsoft.network/privatednszones/"


class AdminApi(Protocol):
    """What `start_dns_faults` needs of an admin client (tests' Admin and serve.AdminClient both fit)."""

    def call(self, method: str, path: str, body: Any = None) -> Any: ...


@dataclass(frozen=True)
class DnsFault:
    """On-prem DNS faults applied through `PUT /_sandbox/dns/faults` for `seconds`, then cleared.

    `after_records_in`: wait until that private DNS zone holds an A record set (the wave has made
    its endpoints' zone groups, so its DNS checks are near) before applying; None applies at once.
    Without a trigger a short fault would often be over before anything resolves."""

    faults: dict[str, str]  # name or "*" -> "timeout" | "servfail"
    seconds: float
    after_records_in: str | None = BLOB_ZONE
    wait_limit_seconds: float = 120.0  # give up waiting for the trigger after this long


@dataclass(frozen=True)
class FaultProfile:
    name: str
    description: str
    # Scenario fields: "faults" and "latencies" are appended to the scenario's own lists,
    # "throttling" and "identity" are merged key by key, anything else replaces.
    scenario: dict[str, Any] = field(default_factory=dict)
    dns: DnsFault | None = None
    # Business-unit settings (merged per section) a run needs to ride the fault out, e.g. a DNS
    # timeout longer than the DNS fault. The fault matrix applies them to its test business unit.
    business_unit: dict[str, Any] = field(default_factory=dict)


def _lro_failure(resource_type: str, seed: int) -> dict[str, Any]:
    # The PUT is accepted, the operation ends Failed with a platform code (retryable by plmigrate).
    return {
        "method": "PUT",
        "resource_type": resource_type,
        "lro_failure": True,
        "code": "InternalServerError",
        "message": "The sandbox failed this operation (fault profile lro-failures).",
        "rate": 0.3,
        "seed": seed,
    }


PROFILES: dict[str, FaultProfile] = {
    p.name: p
    for p in (
        FaultProfile(
            name="none",
            description="No faults: the reference run every other profile is compared with.",
        ),
        FaultProfile(
            name="429-storm",
            description="ARM throttles hard: token buckets of 6 writes (+3/s) and 12 reads (+6/s) per principal, "
            "well under the client's own pacing, so most bursts end in 429 + Retry-After.",
            scenario={
                "throttling": {
                    "enabled": True,
                    "reads": {"burst": 12, "per_second": 6},
                    "writes": {"burst": 6, "per_second": 3},
                    "deletes": {"burst": 6, "per_second": 3},
                }
            },
        ),
        FaultProfile(
            name="5xx",
            description="A region's bad hour: 10% of ARM calls fail, 5% with 500 InternalServerError and 5% with "
            "503 ServiceUnavailable (Retry-After 1), seeded.",
            scenario={
                "faults": [
                    {
                        "status": 500,
                        "code": "InternalServerError",
                        "message": "The sandbox injected a 500 (fault profile 5xx).",
                        "rate": 0.05,
                        "seed": 500,
                    },
                    {
                        "status": 503,
                        "code": "ServiceUnavailable",
                        "message": "The sandbox injected a 503 (fault profile 5xx).",
                        "retry_after": 1,
                        "rate": 0.05,
                        "seed": 503,
                    },
                ]
            },
        ),
        FaultProfile(
            name="lro-failures",
            description="30% of the long-running PUTs of private endpoints, vaults and private DNS zones are "
            "accepted and then end Failed (InternalServerError), seeded.",
            scenario={
                "faults": [
                    _lro_failure("Microsoft.Network/privateEndpoints", 1),
                    _lro_failure("Microsoft.RecoveryServices/vaults", 1),
                    _lro_failure("Microsoft.Network/privateDnsZones", 1),
                ]
            },
        ),
        FaultProfile(
            name="principal-not-found",
            description="Entra replication is slow: a fresh identity is unknown for 8 s, even to role "
            "assignments that give principalType (usually they get through at once).",
            scenario={"identity": {"principal_not_found_seconds": 8.0, "principal_not_found_even_with_type": True}},
            # The role step retries PrincipalNotFound until role_seconds; it must outlast the 8 s.
            business_unit={"timeouts": {"role_seconds": 30}},
        ),
        FaultProfile(
            name="dns-timeout",
            description="On-prem DNS stops answering (every query times out) for 4 s once the blob zone has "
            "records, right when the wave verifies DNS.",
            dns=DnsFault(faults={"*": "timeout"}, seconds=4.0),
            # A timed-out query costs the checker 2 s; the DNS wait must outlast the outage.
            business_unit={"timeouts": {"dns_seconds": 20, "dns_retry_seconds": 0.5}},
        ),
        FaultProfile(
            name="dns-servfail",
            description="On-prem DNS answers SERVFAIL to every query for 4 s once the blob zone has records.",
            dns=DnsFault(faults={"*": "servfail"}, seconds=4.0),
            business_unit={"timeouts": {"dns_seconds": 20, "dns_retry_seconds": 0.5}},
        ),
        FaultProfile(
            name="slow",
            description="Slow operations: every long-running PUT takes 1 s longer and reports InProgress three "
            "times; reads of private endpoints take 0.1 s.",
            scenario={
                "lro_polls": 3,
                "latencies": [
                    {"method": "PUT", "seconds": 1.0},
                    {"method": "GET", "resource_type": "Microsoft.Network/privateEndpoints", "seconds": 0.1},
                ],
            },
        ),
    )
}


def _merge_section(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **copy.deepcopy(change)}
    return copy.deepcopy(change)


def apply(profile: FaultProfile, scenario: dict[str, Any]) -> dict[str, Any]:
    """A copy of `scenario` (a Scenario as a dict) with the profile's changes; validated, so a
    profile that does not fit the Scenario model fails here rather than in the sandbox."""
    data = copy.deepcopy(scenario)
    for key, change in profile.scenario.items():
        if key in {"faults", "latencies"}:
            data[key] = list(data.get(key) or []) + copy.deepcopy(change)
        elif key in {"throttling", "identity"}:
            data[key] = _merge_section(data.get(key) or {}, change)
        else:
            data[key] = copy.deepcopy(change)
    return Scenario.model_validate(data).model_dump()


def apply_to_business_unit(profile: FaultProfile, business_unit: dict[str, Any]) -> dict[str, Any]:
    """A copy of a business-unit dict with the settings the profile needs (merged per section)."""
    data = copy.deepcopy(business_unit)
    for key, change in profile.business_unit.items():
        data[key] = _merge_section(data.get(key), change)
    return data


class DnsFaultWindow:
    """A DNS fault applied by a background thread for a limited time. `stop()` ends it early if it
    is still on, waits for the thread and returns what happened."""

    def __init__(self, admin: AdminApi, fault: DnsFault | None) -> None:
        self.admin = admin
        self.fault = fault
        self.applied_at: float | None = None
        self.cleared_at: float | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if fault is not None:
            self._thread = threading.Thread(target=self._run, name="dns-fault-window", daemon=True)
            self._thread.start()

    def _triggered(self) -> bool:
        assert self.fault is not None
        if self.fault.after_records_in is None:
            return True
        marker = f"{_A_RECORD_TYPE}{self.fault.after_records_in.lower()}/a/"
        resources = (self.admin.call("GET", "/state") or {}).get("resources", {})
        return any(marker in k.lower() for k in resources)

    def _run(self) -> None:
        assert self.fault is not None
        try:
            give_up = time.monotonic() + self.fault.wait_limit_seconds
            while not self._triggered():
                if self._stop.wait(0.1) or time.monotonic() > give_up:
                    return
            self.admin.call("PUT", "/dns/faults", {"faults": self.fault.faults})
            self.applied_at = time.monotonic()
            self._stop.wait(self.fault.seconds)
        except BaseException as exc:  # reported through stop(); a thread has nowhere else to raise
            self.error = exc
        finally:
            if self.applied_at is not None:
                # Clearing also drops stale-answer overrides: profiles never set any.
                self.admin.call("PUT", "/dns/faults", {"faults": {}})
                self.cleared_at = time.monotonic()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.error is not None:
            raise self.error
        return {
            "applied": self.applied_at is not None,
            "seconds": (self.cleared_at or 0) - self.applied_at if self.applied_at is not None else 0.0,
        }


def start_dns_faults(admin: AdminApi, profile: FaultProfile) -> DnsFaultWindow:
    """Start the profile's DNS fault window (none: a window that does nothing). Call `.stop()`."""
    return DnsFaultWindow(admin, profile.dns)


def injected(admin: AdminApi) -> int:
    """ARM faults the sandbox has injected so far (429s from throttling are counted by /calls)."""
    return int((admin.call("GET", "/faults") or {}).get("injected", 0))
