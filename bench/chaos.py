"""Benchmark: a wave under fire. The fault matrix and the crash-and-resume loop, with figures.

    .venv/bin/python -m bench.chaos [--seed 7] [--kills 20] [--servers 40] [--skip-faults] [--skip-crash]

Everything runs as separate processes, as in production: one Prefect server (`prefect server
start`, SQLite in a temporary PREFECT_HOME) for the whole benchmark, the sandbox as its own
process (`python -m plmigrate sandbox serve --state FILE --info FILE`), and every wave as
`python -m plmigrate wave BU_FILE wave-01 --inventory FILE --sandbox INFO --json`.

1. A fault-free wave on a fresh sandbox: its final state's digest is the reference, its duration
   spreads the kill points.
2. The fault matrix: for every profile in plmigrate.sandbox.faultprofiles.PROFILES, a wave on a
   fresh sandbox with the profile applied, re-run (faults still on) until it exits 0, at most
   `--max-runs` times. Its final state must match the reference digest, with no duplicate and
   no server without a recorded state.
3. The crash loop, on a fresh world: `--kills` waves SIGKILLed after delays drawn by a seeded RNG
   over the clean run's duration (sorted, so that successive kills reach further into the work
   that is left), the sandbox state inspected after each kill for what is half-made, then waves
   run to completion. The final run must exit 0 with every server ready, no duplicate, no orphan
   and nothing half-made.

Prints: faults injected, 429s, crashes, runs to converge, duplicates found (must be 0), servers
lost (must be 0); exits 1 when any of those checks fails. See docs/reliability.md.

The inspection functions (`inspect_state`, `digest`) work on a sandbox state snapshot (the admin
API's GET /_sandbox/state, or `World.snapshot()`), so tests/pipeline/test_crash.py uses them too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from plmigrate.model import BusinessUnit, load_business_unit
from plmigrate.naming import endpoint_name
from plmigrate.rules import ASR_GROUP_ID, BLOB_GROUP_ID, required_roles
from plmigrate.sandbox.scenario import Scenario
from plmigrate.sandbox.serve import AdminClient

ROOT = Path(__file__).resolve().parents[1]
FINANCE = ROOT / "deployments" / "finance.yaml"
WAVE = "wave-01"

# Long-running PUTs the wave makes: a latency on each keeps the operation InProgress for a while,
# so a kill often lands between the PUT being accepted and the client seeing it finish.
LRO_PUTS = (
    "Microsoft.RecoveryServices/vaults",
    "Microsoft.Network/privateEndpoints",
    "Microsoft.Network/privateDnsZones",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
)


# -- inputs --------------------------------------------------------------------------------------
def chaos_scenario(lro_seconds: float = 1.0) -> dict[str, Any]:
    """The default scenario with every storage account approvable (no human step) and a latency
    on each long-running PUT."""
    data = Scenario.load("default").model_dump()
    for account in data["storage_accounts"]:
        account["principal_may_approve"] = True
    data["latencies"] = [{"method": "PUT", "resource_type": t, "seconds": lro_seconds} for t in LRO_PUTS]
    return data


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_business_unit(path: Path) -> Path:
    """deployments/finance.yaml with waits sized for the sandbox (DNS and roles settle in seconds)
    and approval polled rather than paused (a pause would wait for a person)."""
    data = yaml.safe_load(FINANCE.read_text())
    data["timeouts"] = {"dns_seconds": 20, "dns_retry_seconds": 0.5, "role_seconds": 30, "role_retry_seconds": 0.5}
    data["approval"] = {"mode": "wait_for_owner", "timeout_seconds": 60, "poll_seconds": 1, "pause_in_ui": False}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_inventory(path: Path, count: int) -> Path:
    """`count` servers of mixed source types over all three finance accounts (as bench/wave.py)."""
    from bench.common import write_inventory as write

    return write(path, count, wave=WAVE)


# -- processes -----------------------------------------------------------------------------------
class SandboxProcess:
    """`plmigrate sandbox serve` as its own process, with a state file; outlives every wave."""

    def __init__(self, work: Path, scenario_file: Path, name: str = "sandbox") -> None:
        self.work = work
        self.scenario_file = scenario_file
        self.info_file = work / f"{name}-info.json"
        self.state_file = work / f"{name}-state.json"
        self.log = work / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SandboxProcess:
        self.info_file.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "plmigrate", "sandbox", "serve", "--scenario", str(self.scenario_file),
            "--state", str(self.state_file), "--info", str(self.info_file),
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.process.returncode}; see {self.log}")
            if self.info_file.exists():
                try:
                    self.admin().call("GET", "/info")
                    return self
                except Exception:  # the info file is written just before the server answers
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"sandbox not up after {timeout:.0f} s; see {self.log}")

    def admin(self) -> AdminClient:
        return AdminClient.from_file(str(self.info_file))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class WaveResult:
    exit_code: int | None  # None: killed
    seconds: float
    report: dict[str, Any] | None
    log: Path
    started_at: float = 0.0  # wall clock (time.time()) at the process's start

    @property
    def flow_started_after(self) -> float | None:
        """Seconds from the process's start to its flow run's first log line (imports, settings
        and the flow run's creation come first): kills before that cannot reach Azure."""
        for line in self.log.read_text(errors="replace").splitlines():
            if "Beginning flow run" in line:
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                return max(0.0, stamp - self.started_at)
        return None

    @property
    def killed(self) -> bool:
        return self.exit_code is None


def run_wave(
    env: dict[str, str],
    business_unit: Path,
    inventory: Path,
    info_file: Path,
    log: Path,
    kill_after: float | None = None,
    kill_when: Callable[[], bool] | None = None,
) -> WaveResult:
    """`plmigrate wave ... --json` as a subprocess, SIGKILLed if still running after `kill_after`
    seconds, or as soon as `kill_when()` (polled every 50 ms) says so."""
    command = [
        sys.executable, "-m", "plmigrate", "wave", str(business_unit), WAVE, "--inventory", str(inventory),
        "--sandbox", str(info_file), "--json",
    ]  # fmt: skip
    out_file = log.with_suffix(".json")
    started, started_at = time.monotonic(), time.time()
    with out_file.open("wb") as out, log.open("wb") as err:
        # Its own session: the kill takes the whole process group, as a lost worker would be.
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=ROOT, start_new_session=True)
        code: int | None = None
        while code is None:
            try:
                code = process.wait(0.05 if kill_when else kill_after)
            except subprocess.TimeoutExpired:
                late = kill_after is not None and time.monotonic() - started >= kill_after
                if late or (kill_when is not None and kill_when()):
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    break
    seconds = time.monotonic() - started
    report = None
    if code in (0, 1):
        try:
            report = json.loads(out_file.read_text())
        except ValueError:
            report = None
    return WaveResult(code, seconds, report, log, started_at)


def servers_lost(report: dict[str, Any] | None, inventory: Path) -> int:
    """Servers of the inventory without a recorded state (ready or blocked) in the wave's report."""
    import csv

    with inventory.open() as rows:
        wanted = {r["server"] for r in csv.DictReader(rows) if r["wave"] == WAVE}
    recorded = {s["server"] for s in (report or {}).get("servers", []) if s.get("state") in {"ready", "blocked"}}
    return len(wanted - recorded)


# -- what the world holds ------------------------------------------------------------------------
@dataclass
class Findings:
    duplicates: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    half_made: list[str] = field(default_factory=list)  # "kind: resource"

    @property
    def half_made_kinds(self) -> Counter[str]:
        return Counter(h.split(":", 1)[0] for h in self.half_made)


def _of_type(state: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [r for r in state["resources"].values() if r.get("type", "").lower() == rtype.lower()]


def _parent(resource_id: str, levels: int = 2) -> str:
    return "/".join(resource_id.split("/")[:-levels]).lower()


def _ok(resource: dict[str, Any]) -> bool:
    return (resource.get("properties") or {}).get("provisioningState", "Succeeded") == "Succeeded"


def _connections(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    props = endpoint.get("properties") or {}
    return (props.get("privateLinkServiceConnections") or []) + (props.get("manualPrivateLinkServiceConnections") or [])


def inspect_state(state: dict[str, Any], bu: BusinessUnit) -> Findings:
    """Duplicates, orphans and half-made pieces of what plmigrate makes for `bu` in a sandbox
    state snapshot. Duplicates and orphans must never exist; half-made pieces may exist after a
    crash, and must not after a run that finished."""
    found = Findings()
    endpoints = _of_type(state, "Microsoft.Network/privateEndpoints")
    nics = _of_type(state, "Microsoft.Network/networkInterfaces")
    vaults = _of_type(state, "Microsoft.RecoveryServices/vaults")

    # Duplicates: one endpoint per (target, group), one role assignment per (scope, role,
    # principal), one zone group per endpoint, one A record set (with one address) per FQDN,
    # one vault, one zone per name, one link per (zone, VNet), one connection per endpoint on a target.
    per_target = Counter(
        (c["properties"].get("privateLinkServiceId", "").lower(), g.lower())
        for e in endpoints
        for c in _connections(e)
        for g in c["properties"].get("groupIds") or []
    )
    found.duplicates += [f"{n} private endpoints for {t} ({g})" for (t, g), n in per_target.items() if n > 1]
    roles = Counter(
        (
            (r["properties"].get("scope") or _parent(r["id"], 4)).lower(),
            r["properties"]["roleDefinitionId"].rsplit("/", 1)[-1].lower(),
            r["properties"]["principalId"].lower(),
        )
        for r in _of_type(state, "Microsoft.Authorization/roleAssignments")
    )
    found.duplicates += [f"{n} assignments of role {ro} to {p} on {s}" for (s, ro, p), n in roles.items() if n > 1]
    groups = Counter(
        _parent(g["id"]) for g in _of_type(state, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")
    )
    found.duplicates += [f"{n} zone groups on {e}" for e, n in groups.items() if n > 1]
    records = _of_type(state, "Microsoft.Network/privateDnsZones/A")
    fqdns = Counter(r["properties"].get("fqdn", r["name"]).lower().rstrip(".") for r in records)
    found.duplicates += [f"{n} A record sets for {f}" for f, n in fqdns.items() if n > 1]
    found.duplicates += [
        f"A record set {r['id']} holds {len(r['properties'].get('aRecords') or [])} addresses"
        for r in records
        if len(r["properties"].get("aRecords") or []) > 1
    ]
    if len(vaults) > 1:
        found.duplicates.append(f"{len(vaults)} Recovery Services vaults: {', '.join(v['name'] for v in vaults)}")
    zones = Counter(z["name"].lower() for z in _of_type(state, "Microsoft.Network/privateDnsZones"))
    found.duplicates += [f"{n} private DNS zones named {z}" for z, n in zones.items() if n > 1]
    links = Counter(
        (_parent(link["id"]), (link["properties"].get("virtualNetwork") or {}).get("id", "").lower())
        for link in _of_type(state, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
    )
    found.duplicates += [f"{n} links from {z} to {v}" for (z, v), n in links.items() if n > 1]
    target_conns = Counter(
        (_parent(c["id"]), (c["properties"].get("privateEndpoint") or {}).get("id", "").lower())
        for rtype in ("Microsoft.Storage/storageAccounts", "Microsoft.RecoveryServices/vaults")
        for c in _of_type(state, rtype + "/privateEndpointConnections")
    )
    found.duplicates += [f"{n} connections on {t} for endpoint {e}" for (t, e), n in target_conns.items() if n > 1]

    # Orphans: every endpoint is one plmigrate's naming makes for this business unit, with its NIC;
    # every NIC belongs to an endpoint that exists.
    expected = {
        f"/subscriptions/{bu.subscription_id}/resourcegroups/{bu.resource_group}/providers/"
        f"microsoft.network/privateendpoints/{name}".lower()
        for name in [endpoint_name(bu.vault_name, ASR_GROUP_ID)]
        + [endpoint_name(a.name, BLOB_GROUP_ID) for a in bu.storage_accounts]
    }
    nic_ids = {n["id"].lower() for n in nics}
    endpoint_ids = {e["id"].lower() for e in endpoints}
    for e in endpoints:
        if e["id"].lower() not in expected:
            found.orphans.append(f"private endpoint {e['id']} is not one plmigrate makes for {bu.name}")
        for nic in (e.get("properties") or {}).get("networkInterfaces") or []:
            if nic["id"].lower() not in nic_ids:
                found.orphans.append(f"private endpoint {e['id']} names NIC {nic['id']}, which does not exist")
    for nic in nics:
        owner = ((nic.get("properties") or {}).get("privateEndpoint") or {}).get("id", "").lower()
        if owner and owner not in endpoint_ids:
            found.orphans.append(f"NIC {nic['id']} belongs to endpoint {owner}, which does not exist")

    # Half-made: pieces a crash can leave between two steps of one resource's making.
    for r in state["resources"].values():
        if not _ok(r) and r.get("type", "").split("/")[0].lower() in {
            "microsoft.network",
            "microsoft.recoveryservices",
            "microsoft.authorization",
        }:
            found.half_made.append(f"provisioning {r['properties']['provisioningState']}: {r['id']}")
    for v in vaults:
        if "SystemAssigned" not in str((v.get("identity") or {}).get("type")):
            found.half_made.append(f"vault without identity: {v['id']}")
    for e in endpoints:
        if e["id"].lower() not in groups:
            found.half_made.append(f"endpoint without zone group: {e['id']}")
        for c in _connections(e):
            status = c["properties"].get("privateLinkServiceConnectionState", {}).get("status")
            if status != "Approved":
                found.half_made.append(f"connection {status}: {e['id']}")
        # A record sets are named in the privatelink zone; the endpoint lists the public names.
        missing = {f.lower().rstrip(".") for f in _fqdns(e)} - {f.replace(".privatelink.", ".") for f in fqdns}
        if e["id"].lower() in groups and missing:
            found.half_made.append(f"zone group without records ({len(missing)} missing): {e['id']}")
    linked = {z for z, _ in links}
    for z in _of_type(state, "Microsoft.Network/privateDnsZones"):
        if z["id"].lower() not in linked:
            found.half_made.append(f"zone without VNet link: {z['id']}")
    principal = (vaults[0].get("identity") or {}).get("principalId", "").lower() if vaults else ""
    for account in _of_type(state, "Microsoft.Storage/storageAccounts"):
        wanted = {r.lower() for r in required_roles(account["sku"]["name"])}
        have = {ro for (s, ro, p) in roles if s == account["id"].lower() and p == principal}
        if have and not wanted <= have:
            found.half_made.append(f"roles {len(have & wanted)} of {len(wanted)}: {account['id']}")
    return found


def _fqdns(endpoint: dict[str, Any]) -> list[str]:
    return [c["fqdn"] for c in (endpoint.get("properties") or {}).get("customDnsConfigs") or []]


# Keys whose values differ between two equal runs: random IDs, ETags, addresses allocated in
# whatever order concurrent calls arrive, timestamps.
_VOLATILE = {
    "etag", "resourceguid", "privateipaddress", "ipaddresses", "ipv4address", "principalid", "tenantid",
    "macaddress", "internaldomainnamesuffix", "creationtime", "createdon", "updatedon", "lastmodifiedtime",
    "timecreated", "lastgeofailovertime", "primaryendpoints", "secondaryendpoints", "aRecords".lower(),
}  # fmt: skip
_RANDOM = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT[\d:.]+Z?|\d{6,}", re.IGNORECASE
)


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in sorted(value.items()) if k.lower() not in _VOLATILE}
    if isinstance(value, list):
        return sorted((_normal(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str):
        return _RANDOM.sub("#", value).lower()
    return value


def digest(state: dict[str, Any]) -> tuple[str, list[str]]:
    """A digest of the final state, blind to what differs between two equal runs (generated IDs,
    ETags, allocation order of addresses), and the normalized lines it hashes."""
    lines = sorted(
        json.dumps(_normal(r), sort_keys=True)
        for r in state["resources"].values()
        if r.get("type", "").lower() != "microsoft.network/networkinterfaces/ipconfigurations"
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16], lines


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f"{prefix}[{i}]").items()}
    return {prefix: value}


def state_diff(reference: list[str], lines: list[str], limit: int = 8) -> list[str]:
    """What differs between two digests' lines: resources only in one, and changed fields."""
    old = {json.loads(x).get("id"): json.loads(x) for x in reference}
    new = {json.loads(x).get("id"): json.loads(x) for x in lines}
    out = [f"missing: {i}" for i in sorted(set(old) - set(new), key=str)]
    out += [f"extra: {i}" for i in sorted(set(new) - set(old), key=str)]
    for rid in sorted(set(old) & set(new), key=str):
        if old[rid] != new[rid]:
            a, b = _flatten(old[rid]), _flatten(new[rid])
            fields = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            out.append(f"changed: {rid}: " + "; ".join(fields[:4]))
    return out[:limit]


# -- the crash loop ------------------------------------------------------------------------------
@dataclass
class KillPoint:
    delay: float
    killed: bool
    writes: int  # ARM writes the killed run made before it died
    half_made: list[str]


@dataclass
class CrashReport:
    kills: list[KillPoint]
    runs_to_converge: int
    final: WaveResult
    findings: Findings
    servers_lost: int

    @property
    def crashes(self) -> int:
        return sum(k.killed for k in self.kills)

    @property
    def half_made_seen(self) -> Counter[str]:
        return Counter(h.split(":", 1)[0] for k in self.kills for h in k.half_made)

    @property
    def converged(self) -> bool:
        counts = Counter(s["state"] for s in (self.final.report or {}).get("servers", []))
        return (
            self.final.exit_code == 0
            and counts.get("blocked", 0) == 0
            and self.servers_lost == 0
            and not (self.findings.duplicates or self.findings.orphans or self.findings.half_made)
        )


def kill_delays(seed: int, kills: int, low: float, high: float) -> list[float]:
    """`kills` delays in [low, high], drawn by a seeded RNG, in ascending order: each kill then
    tends to land further into what the earlier, killed runs left to do."""
    rng = random.Random(seed)
    return sorted(round(rng.uniform(low, high), 2) for _ in range(kills))


def crash_loop(
    admin: AdminClient,
    env: dict[str, str],
    business_unit: Path,
    inventory: Path,
    info_file: Path,
    delays: list[float],
    logs: Path,
    *,
    seed: int = 0,
    low: float = 0.0,
    crashes: int | None = None,
    max_final_runs: int = 3,
    on_kill: Callable[[int, KillPoint], None] | None = None,
) -> CrashReport:
    """Run the wave once per delay, SIGKILLing it when the delay passes, and inspect the sandbox
    after each; then run the wave until it exits 0 (at most `max_final_runs` times) and inspect
    the end state.

    A run that finishes before its kill still counts as a kill point but not as a crash. With
    `crashes`, more kill points follow until that many runs were really killed (at most three
    times as many attempts), drawn by the same seeded RNG between `low` and the duration of the
    last run that finished: once the world is nearly converged, runs are shorter."""
    bu = load_business_unit(business_unit)
    rng = random.Random(seed)
    pending = list(delays)
    points: list[KillPoint] = []
    span = max(delays, default=low)
    while pending or (crashes is not None and sum(p.killed for p in points) < crashes):
        if len(points) >= 3 * max(len(delays), crashes or 0):
            break
        delay = pending.pop(0) if pending else round(rng.uniform(low, max(span, low + 0.5)), 2)
        before = admin.calls()["writes"]
        i = len(points)
        result = run_wave(env, business_unit, inventory, info_file, logs / f"kill-{i:02d}.log", kill_after=delay)
        if not result.killed:
            span = result.seconds
        found = inspect_state(admin.call("GET", "/state"), bu)
        if found.duplicates or found.orphans:
            raise AssertionError(f"after kill point {i} ({delay} s): {found.duplicates + found.orphans}")
        point = KillPoint(delay, result.killed, admin.calls()["writes"] - before, found.half_made)
        points.append(point)
        if on_kill is not None:
            on_kill(i, point)
    runs = 0
    final: WaveResult | None = None
    while runs < max_final_runs:
        runs += 1
        final = run_wave(env, business_unit, inventory, info_file, logs / f"final-{runs}.log")
        if final.exit_code == 0:
            break
    assert final is not None
    return CrashReport(
        points, runs, final, inspect_state(admin.call("GET", "/state"), bu), servers_lost(final.report, inventory)
    )


# -- the benchmark -------------------------------------------------------------------------------
def _wave_env(api_url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(work / "prefect-client"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(work / "results"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }


@dataclass
class FaultRow:
    profile: str
    injected: int
    throttled: int
    errors: int  # ARM error answers but 404 (which first reads get): injected, 429, PrincipalNotFound, ...
    dns_seconds: float
    runs: int
    exit_code: int | None
    same_state: bool
    duplicates: int
    half_made: list[str]
    servers_lost: int
    diff: list[str]
    seconds: float


def fault_matrix(
    work: Path, env: dict[str, str], base: dict[str, Any], bu_file: Path, inventory: Path, reference: list[str],
    max_runs: int,
) -> list[FaultRow]:  # fmt: skip
    """Every fault profile on a fresh sandbox process; the wave re-run, faults still on, until it
    exits 0 (at most `max_runs` times); its end state compared with the fault-free reference."""
    from plmigrate.sandbox import faultprofiles

    rows = []
    bu_data = yaml.safe_load(bu_file.read_text())
    for name, profile in faultprofiles.PROFILES.items():
        scenario = faultprofiles.apply(profile, base)
        profile_bu = work / f"fault-{name}-bu.yaml"
        profile_bu.write_text(yaml.safe_dump(faultprofiles.apply_to_business_unit(profile, bu_data), sort_keys=False))
        bu = load_business_unit(profile_bu)
        sandbox = SandboxProcess(work, write_scenario(work / f"fault-{name}.yaml", scenario), f"fault-{name}").start()
        started = time.monotonic()
        dns_seconds = 0.0
        try:
            admin = sandbox.admin()
            runs, result = 0, None
            while runs < max_runs:
                runs += 1
                window = faultprofiles.start_dns_faults(admin, profile)
                result = run_wave(env, profile_bu, inventory, sandbox.info_file, work / f"fault-{name}-{runs}.log")
                dns_seconds += window.stop()["seconds"]
                if result.exit_code == 0:
                    break
            assert result is not None
            state = admin.call("GET", "/state")
            _, lines = digest(state)
            found = inspect_state(state, bu)
            rows.append(
                FaultRow(
                    name,
                    faultprofiles.injected(admin),
                    int(admin.calls().get("throttled", 0)),
                    sum(c["count"] for c in admin.calls()["calls"] if c["status"] >= 400 and c["status"] != 404),
                    dns_seconds,
                    runs,
                    result.exit_code,
                    lines == reference,
                    len(found.duplicates) + len(found.orphans),
                    found.half_made,
                    servers_lost(result.report, inventory),
                    state_diff(reference, lines),
                    time.monotonic() - started,
                )
            )
        finally:
            sandbox.stop()
        row = rows[-1]
        print(
            f"  fault profile {name}: {row.injected} injected, {row.throttled} 429s, {row.errors} ARM errors, "
            f"DNS outage {row.dns_seconds:.1f} s, {row.runs} run(s), exit {row.exit_code}, "
            f"same state {row.same_state}, {row.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="seed of the kill points (default 7)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs in the crash loop (default 20)")
    parser.add_argument("--servers", type=int, default=40, help="servers in the wave (default 40)")
    parser.add_argument("--lro-seconds", type=float, default=1.0, help="latency of each long-running PUT")
    parser.add_argument("--max-runs", type=int, default=3, help="wave runs allowed to converge (default 3)")
    parser.add_argument("--skip-faults", action="store_true", help="only the crash loop")
    parser.add_argument("--skip-crash", action="store_true", help="only the fault matrix")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, states)")
    args = parser.parse_args(argv)

    from bench.common import PrefectServer

    # SIGTERM unwinds like Ctrl-C, so the Prefect server and sandbox processes are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="plmigrate-chaos-"))
    (work / "prefect").mkdir()
    print(f"chaos: work directory {work}", file=sys.stderr, flush=True)
    started = time.monotonic()
    server = PrefectServer(work / "prefect").start()
    print(f"chaos: Prefect server up in {server.start_seconds:.1f} s at {server.api_url}", file=sys.stderr, flush=True)
    env = _wave_env(server.api_url, work)
    base = chaos_scenario(args.lro_seconds)
    scenario_file = write_scenario(work / "scenario.yaml", base)
    bu_file = write_business_unit(work / "finance.yaml")
    inventory = write_inventory(work / "wave.csv", args.servers)
    failures: list[str] = []
    sandbox = SandboxProcess(work, scenario_file).start()
    try:
        admin = sandbox.admin()
        clean = run_wave(env, bu_file, inventory, sandbox.info_file, work / "clean.log")
        if clean.exit_code != 0:
            raise SystemExit(f"chaos: the fault-free wave failed ({clean.exit_code}); see {clean.log}")
        clean_digest, reference = digest(admin.call("GET", "/state"))
        clean_findings = inspect_state(admin.call("GET", "/state"), load_business_unit(bu_file))
        print(
            f"chaos: fault-free wave of {args.servers} servers: {clean.seconds:.1f} s, digest {clean_digest}, "
            f"{len(clean_findings.duplicates)} duplicates",
            file=sys.stderr,
            flush=True,
        )
        rows: list[FaultRow] = []
        if not args.skip_faults:
            rows = fault_matrix(work, env, base, bu_file, inventory, reference, args.max_runs)
        crash: CrashReport | None = None
        if not args.skip_crash:
            admin.call("POST", "/reset")
            admin.call("DELETE", "/calls")
            low = clean.flow_started_after or 0.5
            delays = kill_delays(args.seed, args.kills, low, clean.seconds)

            def progress(i: int, point: KillPoint) -> None:
                what = "killed" if point.killed else "finished first"
                print(
                    f"  kill point {i + 1:2d} at {point.delay:5.2f} s: {what}, {point.writes} writes, "
                    f"half-made: {', '.join(sorted(set(h.split(':')[0] for h in point.half_made))) or '-'}",
                    file=sys.stderr,
                    flush=True,
                )

            crash = crash_loop(
                admin, env, bu_file, inventory, sandbox.info_file, delays, work,
                seed=args.seed, low=low, crashes=args.kills, max_final_runs=args.max_runs, on_kill=progress,
            )  # fmt: skip
            _, crash_lines = digest(admin.call("GET", "/state"))
            if crash_lines != reference:
                failures.append("crash loop: final state differs from the fault-free run's")
                failures += state_diff(reference, crash_lines)
    finally:
        sandbox.stop()
        server.stop()

    print()
    print(f"# bench.chaos — seed {args.seed}, {args.servers} servers, LRO PUT latency {args.lro_seconds:g} s")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}")
    print(f"fault-free wave: {clean.seconds:.1f} s (process start to exit), final-state digest {clean_digest}")
    if rows:
        print()
        print(
            "| profile | faults injected | 429s | ARM errors | DNS outage s | runs to converge | exit "
            "| same final state | duplicates | servers lost | seconds |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
        for r in rows:
            print(
                f"| {r.profile} | {r.injected} | {r.throttled} | {r.errors} | {r.dns_seconds:.1f} | {r.runs} "
                f"| {r.exit_code} | {'yes' if r.same_state else 'NO'} | {r.duplicates} | {r.servers_lost} "
                f"| {r.seconds:.0f} |"
            )
            if not r.same_state or r.duplicates or r.half_made or r.servers_lost or r.exit_code != 0:
                failures.append(
                    f"fault profile {r.profile}: exit {r.exit_code}, same state {r.same_state}, {r.duplicates} "
                    f"duplicates, left half-made {r.half_made}, {r.servers_lost} servers lost"
                )
                failures += r.diff
    if crash is not None:
        landed = [k for k in crash.kills if k.killed]
        print()
        print(
            f"crash loop: {len(crash.kills)} kill points (seed {args.seed}, delays "
            f"{min(k.delay for k in crash.kills):.2f}-{max(k.delay for k in crash.kills):.2f} s), "
            f"crashes {crash.crashes} (the other runs finished before their kill), "
            f"{sum(1 for k in landed if k.writes)} of them after the run had written"
        )
        print(f"half-made pieces seen after kills: {dict(crash.half_made_seen) or 'none'}")
        print(
            f"runs to converge after the last kill: {crash.runs_to_converge} (exit {crash.final.exit_code}, "
            f"{crash.final.seconds:.1f} s)"
        )
        print(f"duplicates found: {len(crash.findings.duplicates)}; orphans: {len(crash.findings.orphans)}; "
              f"half-made left: {len(crash.findings.half_made)}; servers lost: {crash.servers_lost}")  # fmt: skip
        print(f"final state equals the fault-free run's: {'yes' if crash_lines == reference else 'NO'}")
        if not crash.converged:
            failures.append(f"crash loop did not converge: {crash.findings}")
    total_dupes = sum(r.duplicates for r in rows) + (len(crash.findings.duplicates) if crash else 0)
    total_lost = sum(r.servers_lost for r in rows) + (crash.servers_lost if crash else 0)
    print()
    print(
        f"totals: faults injected {sum(r.injected for r in rows)}, 429s {sum(r.throttled for r in rows)}, "
        f"crashes {crash.crashes if crash else 0}, duplicates found {total_dupes}, servers lost {total_lost}; "
        f"wall time {time.monotonic() - started:.0f} s"
    )
    for failure in failures:
        print(f"FAIL {failure}")
    if not args.keep and not failures:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work directory kept: {work}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
