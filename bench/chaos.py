"""Benchmark: a wave under fire. The fault matrix and the crash-and-resume loop, with figures.

    .venv/bin/python -m bench.chaos [--seed 7] [--kills 20] [--servers 40] [--profiles NAME ...]
        [--skip-faults] [--skip-crash] [--keep]

Everything runs as separate processes, as in production: one Prefect server (`prefect server
start`, SQLite in a temporary PREFECT_HOME) for the whole benchmark, the sandbox as its own
process (`python -m plmigrate sandbox serve --state FILE --info FILE`), and every wave as
`python -m plmigrate wave BU_FILE wave-01 --inventory FILE --sandbox INFO --json`.

The world is not plmigrate's alone: other teams' state is seeded first (chaos_scenario,
seed_world): IP and VNet rules on every storage account's firewall, other principals' role
assignments, the blob zone with an unrelated A record and a link to a spoke VNet, the vault with
the backup team's tags and public network access disabled. It is checked byte for byte
(`clobbered`) after every profile and every kill: plmigrate may add to it, never change it.

1. A fault-free wave on a fresh, seeded sandbox: its final state's digest is the reference (IDs,
   ETags and timestamps ignored; A-record addresses and role principals kept, as what they belong
   to), its ARM write count sizes the kill points.
2. The fault matrix: for every profile in plmigrate.sandbox.faultprofiles.PROFILES, a wave on a
   fresh, seeded sandbox with the profile applied, re-run (faults still on) until it exits 0, as
   often as the profile allows. Checked: the profile's Expect (a permanent fault must fail every
   run, naming its code; an operation that never finishes must fail at the deadline), the
   reference digest for profiles that converge, no duplicate, no server without a recorded state,
   nothing clobbered, no flow run left Running.
3. The crash loop, on a fresh, seeded world: waves SIGKILLed at their k-th ARM write (k seeded,
   over the writes the wave still has to make) until `--kills` were killed inside their flow run
   (kills before the flow run began or after it finished are not counted); a world that
   converged is reset and seeded again so that kills keep landing in write phases. After each
   kill the sandbox is inspected for what is half-made or clobbered and the flow runs left
   Running are marked Crashed; then waves run to completion. The final run must exit 0 with every
   server ready, no duplicate, no orphan, nothing half-made or clobbered, the reference digest.

Prints the figures (docs/reliability.md); exits 1 when any check fails.

The inspection functions (`inspect_state`, `digest`, `foreign_view`, `clobbered`) work on a
sandbox state snapshot (the admin API's GET /_sandbox/state, or `World.snapshot()`), so
tests/pipeline/test_crash.py uses them too.
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
SUB = "00000000-0000-0000-0000-00000000a11e"
SPOKE_RG, SPOKE_VNET = "rg-network-spoke", "vnet-spoke"
SPOKE_VNET_ID = (
    f"/subscriptions/{SUB}/resourceGroups/{SPOKE_RG}/providers/Microsoft.Network/virtualNetworks/{SPOKE_VNET}"
)
# Other teams' principals with roles on the storage accounts (Reader, Contributor).
OTHER_PRINCIPALS = ("aaaaaaaa-0000-0000-0000-0000000000b1", "aaaaaaaa-0000-0000-0000-0000000000b2")
OTHER_ROLES = ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "b24988ac-6180-42a0-ab88-20f7382dd24c")


def chaos_scenario(lro_seconds: float = 1.0) -> dict[str, Any]:
    """The default scenario with every storage account approvable (no human step), a latency on
    each long-running PUT, and what other teams already have there: a spoke VNet, IP and VNet
    rules on every account's firewall, other principals' roles on every account."""
    data = Scenario.load("default").model_dump()
    data["resource_groups"].append({"name": SPOKE_RG, "location": "eastus"})
    data["virtual_networks"].append(
        {
            "resource_group": SPOKE_RG,
            "name": SPOKE_VNET,
            "location": "eastus",
            "address_prefixes": ["10.30.0.0/16"],
            "subnets": [{"name": "snet-app", "address_prefix": "10.30.1.0/24"}],
        }
    )
    for i, account in enumerate(data["storage_accounts"]):
        account["principal_may_approve"] = True
        account["network_rules"] = {
            "default_action": "Deny",
            "bypass": "Logging, Metrics",
            "ip_rules": [f"203.0.113.{16 * i}/28", f"198.51.100.{7 + i}"],
            "virtual_network_rules": [f"{SPOKE_VNET_ID}/subnets/snet-app"],
        }
        scope = (
            f"/subscriptions/{SUB}/resourceGroups/{account['resource_group']}"
            f"/providers/Microsoft.Storage/storageAccounts/{account['name']}"
        )
        data["role_assignments"] += [
            {"scope": scope, "role_definition_id": role, "principal_id": principal, "principal_type": "User"}
            for principal, role in zip(OTHER_PRINCIPALS, OTHER_ROLES, strict=True)
        ]
    data["latencies"] = [{"method": "PUT", "resource_type": t, "seconds": lro_seconds} for t in LRO_PUTS]
    return data


def seed_world(info_file: Path) -> None:
    """What the scenario format cannot hold, made through ARM as another team would have: the blob
    zone with an unrelated A record and a link to the spoke VNet, and the vault, made by the
    backup team with its own tags, public network access disabled and no identity yet."""
    from plmigrate.azure import Target, clients

    az = clients(Target.sandbox(info_file))
    zone, tags = "privatelink.blob.core.windows.net", {"owner": "network-team"}
    az.privatedns.private_zones.begin_create_or_update(
        "rg-network-hub", zone, {"location": "global", "tags": tags}
    ).result()
    az.privatedns.record_sets.create_or_update(
        "rg-network-hub",
        zone,
        "A",
        "legacyapp",
        {"properties": {"ttl": 300, "aRecords": [{"ipv4Address": "10.30.1.25"}]}},
    )
    link = {
        "location": "global",
        "tags": tags,
        "properties": {"virtualNetwork": {"id": SPOKE_VNET_ID}, "registrationEnabled": False},
    }
    az.privatedns.virtual_network_links.begin_create_or_update(
        "rg-network-hub", zone, "link-spoke-legacy", link
    ).result()
    vault = {
        "location": "eastus",
        "tags": {"owner": "backup-team", "cost-center": "4711"},
        "sku": {"name": "Standard"},
        "properties": {"publicNetworkAccess": "Disabled"},
    }
    az.recoveryservices.vaults.begin_create_or_update("rg-migrate-finance", "rsv-finance-eastus", vault).result()


# What plmigrate legitimately changes on a seeded resource; everything else must stay byte for byte.
_OURS_ON_FOREIGN = {
    # (their ETags change with any write to them; the fields that matter are compared one by one)
    "microsoft.storage/storageaccounts": (
        "etag",
        "properties.networkAcls.bypass",
        "properties.privateEndpointConnections",
    ),
    "microsoft.recoveryservices/vaults": (
        "etag",
        "identity",
        "properties.provisioningState",
        "properties.privateEndpointConnections",
        "properties.privateEndpointStateForBackup",
        "properties.privateEndpointStateForSiteRecovery",
    ),
}
# Seeded resources by type: what other teams have before plmigrate comes (see chaos_scenario, seed_world).
_FOREIGN_TYPES = (
    "microsoft.storage/storageaccounts",
    "microsoft.recoveryservices/vaults",
    "microsoft.network/privatednszones/virtualnetworklinks",
    "microsoft.network/privatednszones/a",
    "microsoft.authorization/roleassignments",
)


def foreign_view(state: dict[str, Any], ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The seeded resources (by lower-case ID; all seeded ones when `ids` is None), each as stored
    but without what plmigrate legitimately changes on it (_OURS_ON_FOREIGN)."""
    out: dict[str, dict[str, Any]] = {}
    for rid, resource in state["resources"].items():
        rtype = resource.get("type", "").lower()
        if (ids is not None and rid.lower() not in ids) or (ids is None and rtype not in _FOREIGN_TYPES):
            continue
        view = json.loads(json.dumps(resource))
        for path in _OURS_ON_FOREIGN.get(rtype, ()):
            *parents, leaf = path.split(".")
            node = view
            for part in parents:
                node = node.get(part) or {}
            node.pop(leaf, None)
        out[rid.lower()] = view
    return out


def clobbered(before: dict[str, dict[str, Any]], state: dict[str, Any]) -> list[str]:
    """What changed on the seeded resources since `before` (foreign_view right after seeding)."""
    after = foreign_view(state, list(before))
    out = [f"gone: {rid}" for rid in before if rid not in after]
    for rid, old in before.items():
        new = after.get(rid)
        if new is not None and new != old:
            a, b = _flatten(old), _flatten(new)
            fields = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            out.append(f"clobbered: {rid}: " + "; ".join(fields[:4]))
    return out


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

    @property
    def flow_finished(self) -> bool:
        """Whether its flow run reached a final state (Prefect logs "Flow run '…' - Finished in
        state …"; task runs log the same words after "Task run")."""
        return any(
            "Flow run '" in line and "Finished in state" in line
            for line in self.log.read_text(errors="replace").splitlines()
        )

    @property
    def killed_mid_flow(self) -> bool:
        """Killed inside its flow run: after the run began, before it finished. A kill before
        (imports, the flow run's creation) or after (the report being printed) tests nothing."""
        return self.killed and self.flow_started_after is not None and not self.flow_finished


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
        "--sandbox", str(info_file), "--json", "-v",
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


# Keys whose values differ between two equal runs: random IDs, ETags, timestamps. Addresses and
# principals are not among them: they are replaced by what they belong to (`_labels`), so a wrong
# IP in an A record or a role for the wrong principal changes the digest.
_VOLATILE = {
    "etag", "resourceguid", "tenantid", "macaddress", "internaldomainnamesuffix", "creationtime", "createdon",
    "updatedon", "lastmodifiedtime", "timecreated", "lastgeofailovertime", "primaryendpoints", "secondaryendpoints",
}  # fmt: skip
_LABELLED = {"privateipaddress", "ipaddresses", "ipv4address", "principalid"}
_RANDOM = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT[\d:.]+Z?|\d{6,}", re.IGNORECASE
)


def _labels(state: dict[str, Any]) -> dict[str, str]:
    """Address -> `ip(fqdn)` for every private endpoint address (the endpoint says which FQDN it
    serves), principal ID -> `identity(vault)` for every vault identity. Addresses handed out in
    another order, or a fresh identity's new GUID, give the same labels; anything else stays raw."""
    labels: dict[str, str] = {}
    for r in state["resources"].values():
        rtype = r.get("type", "").lower()
        if rtype == "microsoft.network/privateendpoints":
            for config in (r.get("properties") or {}).get("customDnsConfigs") or []:
                for ip in config.get("ipAddresses") or []:
                    # The FQDN itself may hold a generated part (the vault's numeric ID in ASR names).
                    labels[ip] = f"ip({_RANDOM.sub('#', config['fqdn'].lower())})"
        elif rtype == "microsoft.recoveryservices/vaults":
            principal = (r.get("identity") or {}).get("principalId")
            if principal:
                labels[principal.lower()] = f"identity({r['name'].lower()})"
    return labels


def _normal(value: Any, labels: dict[str, str], labelled: bool = False) -> Any:
    if isinstance(value, dict):
        return {
            k: _normal(v, labels, labelled or k.lower() in _LABELLED)
            for k, v in sorted(value.items())
            if k.lower() not in _VOLATILE
        }
    if isinstance(value, list):
        return sorted((_normal(v, labels, labelled) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str):
        if labelled:
            return labels.get(value.lower(), labels.get(value, value.lower()))
        return _RANDOM.sub("#", value).lower()
    return value


def digest(state: dict[str, Any]) -> tuple[str, list[str]]:
    """A digest of the final state, blind to what differs between two equal runs (generated IDs,
    ETags, timestamps, the order addresses were handed out in) but not to which address an A
    record holds or which principal a role is for, and the normalized lines it hashes."""
    labels = _labels(state)
    lines = sorted(
        json.dumps(_normal(r, labels), sort_keys=True)
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
    after_writes: int  # the run was to be killed at its this-many-th ARM write
    killed: bool
    mid_flow: bool  # killed inside its flow run (only these are crashes)
    seconds: float
    writes: int  # ARM writes the killed run made before it died
    half_made: list[str]
    marked_crashed: int  # flow runs left Running that were marked Crashed after it
    clobbered: list[str]
    reset: bool = False  # the world had converged; it was reset and seeded again before this run


@dataclass
class CrashReport:
    kills: list[KillPoint]
    runs_to_converge: int
    final: WaveResult
    findings: Findings
    servers_lost: int
    clobbered: list[str]
    resets: int

    @property
    def crashes(self) -> int:
        return sum(k.mid_flow for k in self.kills)

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
            and not self.clobbered
        )


def mark_crashed_runs(api_url: str | None) -> int:
    """Flow runs the Prefect server still shows Running: a SIGKILLed process cannot report its end
    (nothing marks it without a heartbeat automation), so the benchmark marks each Crashed, as
    the next run's operator would, and counts them."""
    if not api_url:
        return 0
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    running = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])))
    with SyncPrefectClient(api_url) as client:
        runs = client.read_flow_runs(flow_run_filter=running)
        for run in runs:
            client.set_flow_run_state(run.id, Crashed(message="its process was killed (bench.chaos)"), force=True)
    return len(runs)


def crash_loop(
    admin: AdminClient,
    env: dict[str, str],
    business_unit: Path,
    inventory: Path,
    info_file: Path,
    logs: Path,
    *,
    crashes: int,
    wave_writes: int,
    seed: int = 0,
    max_final_runs: int = 3,
    api_url: str | None = None,
    reseed: Callable[[], dict[str, dict[str, Any]]] | None = None,
    foreign: dict[str, dict[str, Any]] | None = None,
    on_kill: Callable[[int, KillPoint], None] | None = None,
) -> CrashReport:
    """Kill wave runs mid-write until `crashes` of them were killed inside their flow run, then
    run the wave to completion and inspect the end state.

    Each kill point is an ARM write count: the run is SIGKILLed as soon as the sandbox has seen
    that many writes from it (polled every 50 ms; a long-running PUT's operation is then usually
    still InProgress), drawn by a seeded RNG from 1 to the writes the wave still has to make
    (`wave_writes`, a clean run's count, less what earlier runs on this world made). A run that
    finishes first means the world has converged: it is reset and seeded again (`reseed`, which
    returns the new foreign_view), so that every kill lands in a write phase. After every run:
    duplicates and orphans (must be none), half-made pieces (may exist), the seeded resources
    byte for byte against `foreign`, and flow runs left Running (marked Crashed)."""
    bu = load_business_unit(business_unit)
    rng = random.Random(seed)
    points: list[KillPoint] = []
    made, resets, reset_next = 0, 0, False
    while sum(p.mid_flow for p in points) < crashes and len(points) < 3 * crashes:
        if reset_next:
            admin.call("POST", "/reset")
            foreign = reseed() if reseed is not None else foreign
            made, resets, reset_next = 0, resets + 1, False
        i = len(points)
        after = rng.randint(1, max(1, wave_writes - made))
        before = admin.calls()["writes"]
        result = run_wave(
            env, business_unit, inventory, info_file, logs / f"kill-{i:02d}.log",
            kill_when=lambda before=before, after=after: admin.calls()["writes"] - before >= after,
        )  # fmt: skip
        writes = admin.calls()["writes"] - before
        made += writes
        state = admin.call("GET", "/state")
        found = inspect_state(state, bu)
        if found.duplicates or found.orphans:
            raise AssertionError(f"after kill point {i} (write {after}): {found.duplicates + found.orphans}")
        # Killed inside its flow run: the Prefect server still shows that run Running (a kill before
        # the run was made leaves none; after it finished, its final state). Without a server, the log says.
        marked = mark_crashed_runs(api_url)
        point = KillPoint(
            after,
            result.killed,
            result.killed and (marked > 0 if api_url else result.killed_mid_flow),
            result.seconds,
            writes,
            found.half_made,
            marked,
            clobbered(foreign, state) if foreign is not None else [],
            reset=resets > 0 and made == writes,
        )
        points.append(point)
        if on_kill is not None:
            on_kill(i, point)
        reset_next = not result.killed
    runs = 0
    final: WaveResult | None = None
    while runs < max_final_runs:
        runs += 1
        final = run_wave(env, business_unit, inventory, info_file, logs / f"final-{runs}.log")
        mark_crashed_runs(api_url)
        if final.exit_code == 0:
            break
    assert final is not None
    state = admin.call("GET", "/state")
    return CrashReport(
        points,
        runs,
        final,
        inspect_state(state, bu),
        servers_lost(final.report, inventory),
        clobbered(foreign, state) if foreign is not None else [],
        resets,
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
    same_state: bool | None  # None: a profile that must not converge is not compared
    duplicates: int
    half_made: list[str]
    servers_lost: int
    diff: list[str]
    seconds: float
    first_run_seconds: float = 0.0
    left_running: int = 0  # flow runs the Prefect server still showed Running after a run
    clobbered: list[str] = field(default_factory=list)
    expectation: list[str] = field(default_factory=list)  # what the profile's Expect wanted and did not get

    @property
    def ok(self) -> bool:
        return (
            self.same_state is not False
            and not self.duplicates
            and not self.half_made
            and not self.servers_lost
            and not self.clobbered
            and not self.expectation
            and not self.left_running
        )


def _expectation(profile: Any, results: list[WaveResult]) -> list[str]:
    """What the profile's Expect says the runs must show, and they did not."""
    expect, first = profile.expect, results[0]
    wrong = []
    converged = results[-1].exit_code == 0
    if expect.runs == 0 and converged:
        wrong.append("converged, but the fault is permanent: a run that exits 0 hid it")
    if expect.runs and (not converged or len(results) > expect.runs):
        wrong.append(f"did not exit 0 within {expect.runs} run(s)")
    if expect.first_run_fails and first.exit_code != 1:
        wrong.append(f"first run exited {first.exit_code}, not 1 (a failed step)")
    if expect.first_run_seconds is not None and first.seconds > expect.first_run_seconds:
        wrong.append(f"first run took {first.seconds:.0f} s, over {expect.first_run_seconds:.0f} s")
    if expect.log_contains:
        failing = [r for r in results if r.exit_code != 0] or results[:1]
        silent = [r.log.name for r in failing if expect.log_contains not in r.log.read_text(errors="replace")]
        if silent:
            wrong.append(f"{', '.join(silent)} do(es) not say {expect.log_contains!r}")
    return wrong


def fault_matrix(
    work: Path, env: dict[str, str], base: dict[str, Any], bu_file: Path, inventory: Path, reference: list[str],
    max_runs: int, api_url: str | None = None, only: list[str] | None = None,
) -> list[FaultRow]:  # fmt: skip
    """Every fault profile on a fresh, seeded sandbox process; the wave re-run, faults still on,
    until it exits 0 (at most `max_runs` times, or as many as the profile expects); checked against
    the profile's Expect, the fault-free reference (profiles that converge), and the seeded
    resources byte for byte."""
    from plmigrate.sandbox import faultprofiles

    rows = []
    bu_data = yaml.safe_load(bu_file.read_text())
    for name, profile in faultprofiles.PROFILES.items():
        if only and name not in only:
            continue
        scenario = faultprofiles.apply(profile, base)
        sandbox = SandboxProcess(work, write_scenario(work / f"fault-{name}.yaml", scenario), f"fault-{name}").start()
        relay = None
        started = time.monotonic()
        dns_seconds = 0.0
        try:
            admin = sandbox.admin()
            # Other teams made their resources before the bad day: seeded with the faults off.
            admin.call("PUT", "/faults", [])
            seed_world(sandbox.info_file)
            admin.call("PUT", "/faults", scenario.get("faults") or [])
            foreign = foreign_view(admin.call("GET", "/state"))
            info = json.loads(sandbox.info_file.read_text())
            nameservers, relay = faultprofiles.nameservers_for(profile, (info["dns_host"], int(info["dns_port"])))
            data = faultprofiles.apply_to_business_unit(profile, bu_data)
            if nameservers:
                data["appliances"][0]["nameservers"] = nameservers
            profile_bu = work / f"fault-{name}-bu.yaml"
            profile_bu.write_text(yaml.safe_dump(data, sort_keys=False))
            bu = load_business_unit(profile_bu)
            results: list[WaveResult] = []
            left_running = 0
            allowed = max(max_runs, profile.expect.runs or 2)
            while len(results) < allowed:
                window = faultprofiles.start_dns_faults(admin, profile, relay)
                log = work / f"fault-{name}-{len(results) + 1}.log"
                results.append(run_wave(env, profile_bu, inventory, sandbox.info_file, log))
                dns_seconds += window.stop()["seconds"]
                left_running += mark_crashed_runs(api_url)
                if results[-1].exit_code == 0:
                    break
            state = admin.call("GET", "/state")
            _, lines = digest(state)
            found = inspect_state(state, bu)
            converges = profile.expect.runs != 0
            result = results[-1]
            rows.append(
                FaultRow(
                    name,
                    faultprofiles.injected(admin),
                    int(admin.calls().get("throttled", 0)),
                    sum(c["count"] for c in admin.calls()["calls"] if c["status"] >= 400 and c["status"] != 404),
                    dns_seconds,
                    len(results),
                    result.exit_code,
                    lines == reference if converges else None,
                    len(found.duplicates) + len(found.orphans),
                    found.half_made if converges else [],
                    servers_lost(result.report, inventory) if converges else 0,
                    state_diff(reference, lines) if converges else [],
                    time.monotonic() - started,
                    first_run_seconds=results[0].seconds,
                    left_running=left_running,
                    clobbered=clobbered(foreign, state),
                    expectation=_expectation(profile, results),
                )
            )
        finally:
            if relay is not None:
                relay.stop()
            sandbox.stop()
        row = rows[-1]
        print(
            f"  fault profile {name}: {row.injected} injected, {row.throttled} 429s, {row.errors} ARM errors, "
            f"DNS outage {row.dns_seconds:.1f} s, {row.runs} run(s), exit {row.exit_code}, "
            f"same state {row.same_state}, clobbered {len(row.clobbered)}, expectation "
            f"{'met' if not row.expectation else row.expectation}, {row.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="seed of the kill points (default 7)")
    parser.add_argument("--kills", type=int, default=20, help="kills inside a flow run in the crash loop (default 20)")
    parser.add_argument("--servers", type=int, default=40, help="servers in the wave (default 40)")
    parser.add_argument("--lro-seconds", type=float, default=1.0, help="latency of each long-running PUT")
    parser.add_argument("--max-runs", type=int, default=3, help="wave runs allowed to converge (default 3)")
    parser.add_argument("--profiles", nargs="*", help="only these fault profiles (default: all)")
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
    crash_lines: list[str] = []
    try:
        admin = sandbox.admin()
        seed_world(sandbox.info_file)
        foreign = foreign_view(admin.call("GET", "/state"))
        before = admin.calls()["writes"]
        clean = run_wave(env, bu_file, inventory, sandbox.info_file, work / "clean.log")
        wave_writes = admin.calls()["writes"] - before
        if clean.exit_code != 0:
            raise SystemExit(f"chaos: the fault-free wave failed ({clean.exit_code}); see {clean.log}")
        clean_state = admin.call("GET", "/state")
        clean_digest, reference = digest(clean_state)
        clean_findings = inspect_state(clean_state, load_business_unit(bu_file))
        failures += [f"fault-free wave: {c}" for c in clobbered(foreign, clean_state)]
        print(
            f"chaos: fault-free wave of {args.servers} servers: {clean.seconds:.1f} s, {wave_writes} ARM writes, "
            f"digest {clean_digest}, {len(clean_findings.duplicates)} duplicates, {len(foreign)} seeded resources",
            file=sys.stderr,
            flush=True,
        )
        rows: list[FaultRow] = []
        if not args.skip_faults:
            rows = fault_matrix(
                work, env, base, bu_file, inventory, reference, args.max_runs, server.api_url, args.profiles
            )
        crash: CrashReport | None = None
        if not args.skip_crash:

            def reseed() -> dict[str, dict[str, Any]]:
                seed_world(sandbox.info_file)
                return foreign_view(admin.call("GET", "/state"))

            admin.call("POST", "/reset")
            admin.call("DELETE", "/calls")
            foreign = reseed()

            def progress(i: int, point: KillPoint) -> None:
                what = (
                    "killed mid-flow"
                    if point.mid_flow
                    else "killed outside the flow run"
                    if point.killed
                    else "finished first"
                )
                print(
                    f"  kill point {i + 1:2d} at write {point.after_writes:2d}: {what} after {point.seconds:5.2f} s, "
                    f"{point.writes} writes, {point.marked_crashed} run(s) marked crashed, "
                    f"half-made: {', '.join(sorted(set(h.split(':')[0] for h in point.half_made))) or '-'}"
                    f"{', CLOBBERED ' + str(point.clobbered) if point.clobbered else ''}",
                    file=sys.stderr,
                    flush=True,
                )

            crash = crash_loop(
                admin, env, bu_file, inventory, sandbox.info_file, work,
                crashes=args.kills, wave_writes=wave_writes, seed=args.seed, max_final_runs=args.max_runs,
                api_url=server.api_url, reseed=reseed, foreign=foreign, on_kill=progress,
            )  # fmt: skip
            _, crash_lines = digest(admin.call("GET", "/state"))
            if crash_lines != reference:
                failures.append("crash loop: final state differs from the fault-free run's")
                failures += state_diff(reference, crash_lines)
            for k in crash.kills:
                failures += [f"crash loop, kill at write {k.after_writes}: {c}" for c in k.clobbered]
    finally:
        sandbox.stop()
        server.stop()

    print()
    print(f"# bench.chaos — seed {args.seed}, {args.servers} servers, LRO PUT latency {args.lro_seconds:g} s")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}")
    print(
        f"fault-free wave: {clean.seconds:.1f} s (process start to exit), {wave_writes} ARM writes, final-state digest "
        f"{clean_digest}; {len(foreign)} seeded resources of other teams checked byte for byte"
    )
    if rows:
        print()
        print(
            "| profile | faults injected | 429s | ARM errors | DNS outage s | runs | exit | first run s "
            "| same final state | duplicates | servers lost | clobbered | left Running | expectation | seconds |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |")
        for r in rows:
            same = "n/a" if r.same_state is None else "yes" if r.same_state else "NO"
            print(
                f"| {r.profile} | {r.injected} | {r.throttled} | {r.errors} | {r.dns_seconds:.1f} | {r.runs} "
                f"| {r.exit_code} | {r.first_run_seconds:.0f} | {same} | {r.duplicates} | {r.servers_lost} "
                f"| {len(r.clobbered)} | {r.left_running} | {'met' if not r.expectation else 'NOT MET'} "
                f"| {r.seconds:.0f} |"
            )
            if not r.ok:
                failures.append(
                    f"fault profile {r.profile}: exit {r.exit_code}, same state {r.same_state}, {r.duplicates} "
                    f"duplicates, left half-made {r.half_made}, {r.servers_lost} servers lost, "
                    f"{r.left_running} left Running, expectation {r.expectation}"
                )
                failures += r.diff + r.clobbered
    if crash is not None:
        mid = [k for k in crash.kills if k.mid_flow]
        print()
        print(
            f"crash loop: {len(crash.kills)} kill points (seed {args.seed}, at ARM writes "
            f"{min(k.after_writes for k in crash.kills)}-{max(k.after_writes for k in crash.kills)} of {wave_writes}), "
            f"{crash.crashes} killed inside the flow run, {sum(k.killed and not k.mid_flow for k in crash.kills)} "
            f"killed outside it, {sum(not k.killed for k in crash.kills)} finished first; world reset and seeded "
            f"again {crash.resets} time(s) once converged"
        )
        print(
            f"flow runs left Running by kills, marked Crashed: {sum(k.marked_crashed for k in crash.kills)}; "
            f"writes made by the killed runs: {sum(k.writes for k in mid)}"
        )
        print(f"half-made pieces seen after kills: {dict(crash.half_made_seen) or 'none'}")
        print(
            f"runs to converge after the last kill: {crash.runs_to_converge} (exit {crash.final.exit_code}, "
            f"{crash.final.seconds:.1f} s)"
        )
        print(f"duplicates found: {len(crash.findings.duplicates)}; orphans: {len(crash.findings.orphans)}; "
              f"half-made left: {len(crash.findings.half_made)}; servers lost: {crash.servers_lost}; "
              f"clobbered: {sum(len(k.clobbered) for k in crash.kills) + len(crash.clobbered)}")  # fmt: skip
        print(f"final state equals the fault-free run's: {'yes' if crash_lines == reference else 'NO'}")
        if crash.crashes < args.kills:
            failures.append(f"crash loop: only {crash.crashes} of {args.kills} kills landed inside a flow run")
        if not crash.converged:
            failures.append(f"crash loop did not converge: {crash.findings}, clobbered {crash.clobbered}")
    total_dupes = sum(r.duplicates for r in rows) + (len(crash.findings.duplicates) if crash else 0)
    total_lost = sum(r.servers_lost for r in rows) + (crash.servers_lost if crash else 0)
    print()
    print(
        f"totals: faults injected {sum(r.injected for r in rows)}, 429s {sum(r.throttled for r in rows)}, "
        f"crashes {crash.crashes if crash else 0}, duplicates found {total_dupes}, servers lost {total_lost}, "
        f"seeded resources clobbered {len([f for f in failures if 'clobbered' in f or 'gone:' in f])}; "
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
