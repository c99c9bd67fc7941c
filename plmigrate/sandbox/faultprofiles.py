"""Named fault profiles: how Azure misbehaves on a bad day, as changes to a sandbox scenario.

A profile is data: the Scenario fields it changes (faults, latencies, throttling, identity
propagation), the on-prem DNS faults it applies through the admin API for a limited time, and the
business-unit settings a run needs to ride it out (a fault that outlasts every timeout is an
outage, not a fault), and what a run under it must end in (`Expect`). Most faults are transient:
retries and backoff get through them, so the wave ends where a fault-free wave ends, in one run
or a few. Some are not, on purpose: a non-transient LRO failure code and an operation that never
finishes must end the run with a failed step that names them, within the deadline, having
clobbered nothing; the tests' fault matrix runs the profiles marked `in_tests`, the chaos
benchmark all of them.

Used by the fault matrix (tests/pipeline/test_faults.py) and the chaos benchmark (bench/chaos.py):

    scenario = apply(PROFILES["5xx"], scenario_dict)
    sandbox = Sandbox(Scenario.model_validate(scenario)); sandbox.start()
    dns = start_dns_faults(admin_client, PROFILES["dns-timeout"])   # no-op when the profile has none
    ... run the wave ...
    stats = dns.stop()

A DNS fault on one nameserver of two (`DnsFault(second_nameserver=True)`) needs that second
nameserver: `RelayNameserver` forwards to the sandbox's DNS server and answers SERVFAIL while
the fault is on; the business unit lists both (`nameservers_for`).
"""

from __future__ import annotations

import copy
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import dns.exception
import dns.message
import dns.query
import dns.rcode

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
    # Only the appliance's second nameserver (a RelayNameserver) fails ("servfail" only); the
    # sandbox's own DNS server keeps answering.
    second_nameserver: bool = False


@dataclass(frozen=True)
class Expect:
    """What a wave under the profile must end in (checked by the chaos benchmark's matrix).

    `runs`: wave runs (faults still on) it may take to exit 0; 0 means it must never exit 0 (a
    permanent fault). `first_run_fails`: the first run must fail (exit 1, not a crash or hang)
    within `first_run_seconds`. `log_contains`: text every failing run's log (or, for a run that
    converges, its first run's log) must show: the code or the operation it failed on."""

    runs: int = 1
    first_run_fails: bool = False
    first_run_seconds: float | None = None
    log_contains: str | None = None


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
    expect: Expect = field(default_factory=Expect)
    # Run by the tests' fault matrix (tests/pipeline/test_faults.py) too, not only the benchmark:
    # transient profiles that converge in one run, fast.
    in_tests: bool = True


def _lro_failure(
    resource_type: str, seed: int, rate: float = 0.3, code: str = "InternalServerError", profile: str = "lro-failures"
) -> dict[str, Any]:
    # The PUT is accepted, the operation ends Failed with `code` (a platform code is retried).
    return {
        "method": "PUT",
        "resource_type": resource_type,
        "lro_failure": True,
        "code": code,
        "message": f"The sandbox failed this operation (fault profile {profile}).",
        "rate": rate,
        "seed": seed,
    }


def _write_faults(rate: float, profile: str) -> list[dict[str, Any]]:
    # Half 500, half 503, on every kind of write (azure-core retries PUT and DELETE itself; a
    # PATCH or POST that fails is retried by the task).
    return [
        {
            "method": method,
            "status": status,
            "code": code,
            "message": f"The sandbox injected a {status} (fault profile {profile}).",
            "rate": rate / 2,
            "seed": seed + i,
            **({"retry_after": 1} if status == 503 else {}),
        }
        for i, method in enumerate(("PUT", "PATCH", "POST", "DELETE"))
        for status, code, seed in ((500, "InternalServerError", 4500), (503, "ServiceUnavailable", 4503))
    ]


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
        # -- the attacks of issue 12: benchmark only (heavier, or not converging by design) ------
        FaultProfile(
            name="5xx-writes-45",
            description="A region's worst hour: 45% of every write (PUT, PATCH, POST, DELETE) fails, half with 500 "
            "and half with 503 (Retry-After 1), seeded. Reads are fine.",
            scenario={"faults": _write_faults(0.45, "5xx-writes-45")},
            expect=Expect(runs=3),
            in_tests=False,
        ),
        FaultProfile(
            name="lro-failures-60",
            description="60% of private endpoint PUTs are accepted and then end Failed (InternalServerError), "
            "leaving the endpoint Failed: each is repaired by PUTting it again from its own body.",
            scenario={
                "faults": [_lro_failure("Microsoft.Network/privateEndpoints", 60, 0.6, profile="lro-failures-60")]
            },
            expect=Expect(runs=3),
            in_tests=False,
        ),
        FaultProfile(
            name="lro-failure-permanent",
            description="Every private endpoint PUT ends Failed with a non-transient code (RequestDisallowedByPolicy, "
            "as an Azure Policy deny does): no retry can help, so each run must fail at once, naming the code.",
            scenario={
                "faults": [
                    _lro_failure(
                        "Microsoft.Network/privateEndpoints",
                        1,
                        1.0,
                        code="RequestDisallowedByPolicy",
                        profile="lro-failure-permanent",
                    )
                ]
            },
            expect=Expect(
                runs=0, first_run_fails=True, first_run_seconds=120, log_contains="RequestDisallowedByPolicy"
            ),
            in_tests=False,
        ),
        FaultProfile(
            name="dns-servfail-one",
            description="The appliance's second on-prem nameserver answers SERVFAIL for 4 s once the blob zone has "
            "records; the first keeps answering. DNS is verified against both.",
            dns=DnsFault(faults={"*": "servfail"}, seconds=4.0, second_nameserver=True),
            business_unit={"timeouts": {"dns_seconds": 20, "dns_retry_seconds": 0.5}},
            in_tests=False,
        ),
        FaultProfile(
            name="never-finishes",
            description="Private endpoint operations never finish (InProgress for ever, Retry-After in the hours; "
            "the endpoint shows Creating meanwhile): every run must fail at timeouts.operation_seconds (15 s here), "
            "naming the endpoint it waited for, instead of hanging.",
            scenario={
                "latencies": [
                    {"method": "PUT", "resource_type": "Microsoft.Network/privateEndpoints", "seconds": 100000.0}
                ]
            },
            business_unit={"timeouts": {"operation_seconds": 15}},
            expect=Expect(runs=0, first_run_fails=True, first_run_seconds=90, log_contains="after 15 s"),
            in_tests=False,
        ),
        FaultProfile(
            name="long-retry-after",
            description="The first private endpoint PUT is answered 429 with Retry-After 20: honoured (it is within "
            "the deadline) and logged as a long wait.",
            scenario={
                "faults": [
                    {
                        "method": "PUT",
                        "resource_type": "Microsoft.Network/privateEndpoints",
                        "status": 429,
                        "code": "TooManyRequests",
                        "message": "The sandbox throttled this call (fault profile long-retry-after).",
                        "retry_after": 20,
                        "sequence": [True],
                    }
                ]
            },
            expect=Expect(runs=1, log_contains="with Retry-After 20 s: waiting"),
            in_tests=False,
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


class RelayNameserver:
    """A second on-prem nameserver for the appliance: relays each query (UDP and TCP, one port) to
    `upstream` (the sandbox's DNS server) and, while `broken`, answers SERVFAIL instead."""

    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.broken = False
        relay = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                answer = relay.answer(data, tcp=False)
                if answer is not None:
                    sock.sendto(answer, self.client_address)

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                size = self.rfile.read(2)
                if len(size) < 2:
                    return
                answer = relay.answer(self.rfile.read(int.from_bytes(size, "big")), tcp=True)
                if answer is not None:
                    self.wfile.write(len(answer).to_bytes(2, "big") + answer)

        class UdpServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
            daemon_threads = True

        class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        # The UDP port is picked first and TCP must get the same number; another process may hold
        # it on TCP (tests run in parallel), so try a few times, as the sandbox's DNS server does.
        for attempt in range(20):
            udp = UdpServer((host, 0), Udp)
            try:
                tcp = TcpServer((host, int(udp.server_address[1])), Tcp)
                break
            except OSError:
                udp.server_close()
                if attempt == 19:
                    raise
        self._udp, self._tcp = udp, tcp
        self.address = (host, int(udp.server_address[1]))
        for server in (self._udp, self._tcp):
            threading.Thread(target=server.serve_forever, daemon=True, name="relay-nameserver").start()

    def answer(self, wire: bytes, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # not DNS: no answer, as a real server would drop it
            return None
        if self.broken:
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.SERVFAIL)
            return reply.to_wire()
        ask = dns.query.tcp if tcp else dns.query.udp
        try:
            return ask(query, self.upstream[0], port=self.upstream[1], timeout=2).to_wire()
        except (OSError, dns.exception.DNSException):
            return None

    @property
    def nameserver(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()


def nameservers_for(profile: FaultProfile, sandbox_dns: tuple[str, int]) -> tuple[list[str], RelayNameserver | None]:
    """The appliance nameservers a business unit under `profile` lists: none (the sandbox target
    fills in its own), or, for a fault on the second nameserver, the sandbox's and a relay."""
    if profile.dns is None or not profile.dns.second_nameserver:
        return [], None
    relay = RelayNameserver(sandbox_dns)
    return [f"{sandbox_dns[0]}:{sandbox_dns[1]}", relay.nameserver], relay


class DnsFaultWindow:
    """A DNS fault applied by a background thread for a limited time. `stop()` ends it early if it
    is still on, waits for the thread and returns what happened."""

    def __init__(self, admin: AdminApi, fault: DnsFault | None, relay: RelayNameserver | None = None) -> None:
        self.admin = admin
        self.fault = fault
        self.relay = relay
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
            if self.fault.second_nameserver:
                if self.relay is None:
                    raise ValueError("a fault on the second nameserver needs its RelayNameserver")
                self.relay.broken = True
            else:
                self.admin.call("PUT", "/dns/faults", {"faults": self.fault.faults})
            self.applied_at = time.monotonic()
            self._stop.wait(self.fault.seconds)
        except BaseException as exc:  # reported through stop(); a thread has nowhere else to raise
            self.error = exc
        finally:
            if self.applied_at is not None:
                if self.relay is not None:
                    self.relay.broken = False
                else:
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


def start_dns_faults(admin: AdminApi, profile: FaultProfile, relay: RelayNameserver | None = None) -> DnsFaultWindow:
    """Start the profile's DNS fault window (none: a window that does nothing). Call `.stop()`.
    A fault on the second nameserver needs the relay `nameservers_for` made."""
    return DnsFaultWindow(admin, profile.dns, relay)


def injected(admin: AdminApi) -> int:
    """ARM faults the sandbox has injected so far (429s from throttling are counted by /calls)."""
    return int((admin.call("GET", "/faults") or {}).get("injected", 0))
