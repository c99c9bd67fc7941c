"""The fault matrix: a wave under each fault profile (plmigrate/sandbox/faultprofiles.py) ends in
the same final state as a fault-free wave, with nothing made twice and every server recorded.

Each profile runs once, on a fresh sandbox, through a real Prefect run. The reference is the same
wave with no faults. "Same final state" compares normalised digests of the whole sandbox world
(tests/pipeline/worlddiff.py): every resource by type and name with its properties, so connection
states, role assignments (scope, role, principal), A record sets and storage firewall rules are in
it; GUIDs, the vault's numeric ID, private IPs, etags and timestamps are not.

Every profile is transient by design and converges in one run; none needs a second. (This matrix
found that a private DNS zone whose create LRO failed stayed provisioningState Failed for good;
ensure_private_dns_zone now re-PUTs a zone or VNet link that is not Succeeded.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from plmigrate.sandbox.faultprofiles import PROFILES, FaultProfile, apply, apply_to_business_unit, start_dns_faults
from tests.conftest import Admin
from tests.pipeline import worlddiff
from tests.pipeline.conftest import FINANCE, all_approvable, default_scenario, info_file
from tests.pipeline.test_wave import run, write_inventory

SERVERS = 24


@dataclass
class Outcome:
    profile: str
    seconds: float
    counts: dict[str, int]
    states: dict[str, str]
    digest: dict[str, Any]
    kinds: dict[str, int]
    duplicates: list[str]
    injected: int
    throttled: int
    status_counts: dict[int, int] = field(default_factory=dict)
    dns: dict[str, Any] = field(default_factory=dict)


def _business_unit(path: Path, profile: FaultProfile) -> Path:
    data = yaml.safe_load(FINANCE.read_text())
    data["timeouts"] = {"dns_seconds": 3, "dns_retry_seconds": 0.5, "role_seconds": 20, "role_retry_seconds": 0.5}
    data["approval"] = {"mode": "wait_for_owner", "timeout_seconds": 60, "poll_seconds": 1, "pause_in_ui": True}
    data["limits"] = {**(data.get("limits") or {}), "servers_per_task": 8}
    path.write_text(yaml.safe_dump(apply_to_business_unit(profile, data)))
    return path


def run_under(profile: FaultProfile, make_sandbox, tmp: Path) -> Outcome:
    box = make_sandbox(apply(profile, all_approvable(default_scenario())))
    admin = Admin(box)
    inventory = write_inventory(tmp / "wave.csv", SERVERS)
    bu = _business_unit(tmp / "bu.yaml", profile)
    window = start_dns_faults(admin, profile)
    started = time.monotonic()
    try:
        report = run(bu, inventory, info_file(box, tmp))
    finally:
        dns = window.stop()
    seconds = time.monotonic() - started
    resources = box.world.snapshot()["resources"]
    calls = box.world.call_report()
    statuses: dict[int, int] = {}
    for row in calls["calls"]:
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["count"]
    return Outcome(
        profile=profile.name,
        seconds=seconds,
        counts=report.counts,
        states={s.server: s.state for s in report.servers},
        digest=worlddiff.digest(resources),
        kinds=dict(worlddiff.kinds(resources)),
        duplicates=worlddiff.duplicates(resources),
        injected=int(admin.call("GET", "/faults")["injected"]),
        throttled=calls["throttled"],
        status_counts=statuses,
        dns=dns,
    )


@pytest.fixture(scope="module")
def reference(make_sandbox, tmp_path_factory) -> Outcome:
    outcome = run_under(PROFILES["none"], make_sandbox, tmp_path_factory.mktemp("reference"))
    assert outcome.counts == {"ready": SERVERS, "blocked": 0}
    assert outcome.duplicates == []
    assert outcome.injected == 0 and outcome.throttled == 0
    return outcome


def _evidence(outcome: Outcome) -> None:
    """The fault really happened: a profile that injects nothing proves nothing."""
    name = outcome.profile
    if name == "429-storm":
        assert outcome.throttled > 0, "the storm throttled nothing"
    elif name in {"5xx", "lro-failures"}:
        assert outcome.injected > 0, "no fault was injected"
        if name == "5xx":
            assert outcome.status_counts.get(500, 0) + outcome.status_counts.get(503, 0) == outcome.injected
    elif name == "principal-not-found":
        assert outcome.status_counts.get(400, 0) > 0, "no PrincipalNotFound was answered"
    elif name.startswith("dns-"):
        assert outcome.dns["applied"], "the DNS fault window never opened"
        assert outcome.dns["seconds"] >= PROFILES[name].dns.seconds - 0.5  # type: ignore[union-attr]


_OUTCOMES: dict[str, Outcome] = {}  # one run per profile, shared by the two tests below


@pytest.fixture
def outcome_of(make_sandbox, tmp_path):
    def get(name: str) -> Outcome:
        if name not in _OUTCOMES:
            _OUTCOMES[name] = run_under(PROFILES[name], make_sandbox, tmp_path)
        return _OUTCOMES[name]

    return get


# The transient profiles that converge in one run; the others run in the chaos benchmark (bench/chaos.py).
FAULTY = [n for n, p in PROFILES.items() if n != "none" and p.in_tests]


@pytest.mark.parametrize("name", FAULTY)
def test_a_wave_under_faults_records_every_server_and_makes_nothing_twice(name, reference, outcome_of) -> None:
    outcome = outcome_of(name)
    print(
        f"\n{name}: {outcome.seconds:.1f} s (reference {reference.seconds:.1f} s), injected {outcome.injected}, "
        f"throttled {outcome.throttled}, statuses {outcome.status_counts}, dns {outcome.dns}"
    )
    _evidence(outcome)
    assert outcome.duplicates == []
    assert set(outcome.states) == set(reference.states), "a server ended without a recorded state"
    assert outcome.states == reference.states
    assert outcome.counts == reference.counts
    assert outcome.kinds == reference.kinds


@pytest.mark.parametrize("name", FAULTY)
def test_a_wave_under_faults_ends_where_a_fault_free_wave_ends(name, reference, outcome_of) -> None:
    outcome = outcome_of(name)
    missing = set(reference.digest) - set(outcome.digest)
    extra = set(outcome.digest) - set(reference.digest)
    assert not missing and not extra, (sorted(missing), sorted(extra))
    differing = [k for k in reference.digest if reference.digest[k] != outcome.digest[k]]
    assert not differing, [
        f"{k}: {d}" for k in differing for d in worlddiff.leaf_differences(reference.digest[k], outcome.digest[k])
    ]


# -- nothing clobbered -------------------------------------------------------------------------
SUB = "/subscriptions/00000000-0000-0000-0000-00000000a11e"
RG_STORAGE = f"{SUB}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts"
SPOKE = f"{SUB}/resourceGroups/rg-network-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke"
OTHER_PRINCIPALS = ["aaaaaaaa-0000-0000-0000-0000000000b1", "aaaaaaaa-0000-0000-0000-0000000000b2"]
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"

# What a wave adds to this world, by resource type (lower case): the vault and its Site Recovery
# endpoint, the ASR zone (with its SOA and link), a link of the pre-existing blob zone to the hub,
# one blob endpoint per account with its NIC, zone group, storage-side connection and A record,
# the ASR A records, and the vault identity's two roles per account.
EXPECTED_ADDITIONS = {
    "microsoft.recoveryservices/vaults": 1,
    "microsoft.recoveryservices/vaults/privateendpointconnections": 1,
    "microsoft.network/privateendpoints": 4,
    "microsoft.network/networkinterfaces": 4,
    "microsoft.network/privateendpoints/privatednszonegroups": 4,
    "microsoft.network/privatednszones": 1,
    "microsoft.network/privatednszones/soa": 1,
    "microsoft.network/privatednszones/virtualnetworklinks": 2,
    "microsoft.network/privatednszones/a": 9,
    "microsoft.storage/storageaccounts/privateendpointconnections": 3,
    "microsoft.authorization/roleassignments": 6,
}


def _crowded_world() -> dict[str, Any]:
    data = all_approvable(default_scenario())
    data["resource_groups"].append({"name": "rg-network-spoke", "location": "eastus"})
    data["resource_groups"].append({"name": "rg-storage-other", "location": "eastus"})
    data["virtual_networks"].append(
        {
            "resource_group": "rg-network-spoke",
            "name": "vnet-spoke",
            "location": "eastus",
            "address_prefixes": ["10.30.0.0/16"],
            "subnets": [{"name": "snet-app", "address_prefix": "10.30.1.0/24"}],
        }
    )
    for account in data["storage_accounts"]:
        account["network_rules"] = {
            "default_action": "Deny",
            "bypass": "Logging, Metrics" if account["name"] != "stfinpremrepl01" else "AzureServices",
            "ip_rules": ["203.0.113.0/24", "198.51.100.7"],
            "virtual_network_rules": [f"{SPOKE}/subnets/snet-app"],
        }
    data["storage_accounts"].append(
        {"resource_group": "rg-storage-other", "name": "stotherteam01", "location": "eastus", "sku": "Standard_LRS"}
    )
    for name in ("stfinrepl01", "stfinpremrepl01", "stfincache01"):
        for principal, role in zip(OTHER_PRINCIPALS, (READER, CONTRIBUTOR), strict=True):
            data["role_assignments"].append(
                {"scope": f"{RG_STORAGE}/{name}", "role_definition_id": role, "principal_id": principal}
            )
    data["role_assignments"].append(
        {"scope": f"{SUB}/resourceGroups/rg-storage-other", "role_definition_id": CONTRIBUTOR,
         "principal_id": OTHER_PRINCIPALS[0]}
    )  # fmt: skip
    return data


def test_a_wave_clobbers_nothing_that_was_there(make_sandbox, tmp_path) -> None:
    from plmigrate.azure import Target, clients

    box = make_sandbox(_crowded_world())
    az = clients(Target.sandbox(box.info))
    # Someone else's blob zone, in the resource group plmigrate uses for zones: their record and
    # their link to another VNet must survive, and the zone is reused, not made again.
    zone = "privatelink.blob.core.windows.net"
    az.privatedns.private_zones.begin_create_or_update(
        "rg-network-hub", zone, {"location": "global", "tags": {"owner": "network team"}}
    ).result()
    az.privatedns.record_sets.create_or_update(
        "rg-network-hub",
        zone,
        "A",
        "legacyapp01",
        {"properties": {"ttl": 300, "aRecords": [{"ipv4Address": "10.30.1.9"}]}},
    )
    az.privatedns.virtual_network_links.begin_create_or_update(
        "rg-network-hub", zone, "link-spoke",
        {"location": "global", "properties": {"virtualNetwork": {"id": SPOKE}, "registrationEnabled": False}},
    ).result()  # fmt: skip
    before = box.world.snapshot()["resources"]

    bu = _business_unit(tmp_path / "bu.yaml", PROFILES["none"])
    report = run(bu, write_inventory(tmp_path / "wave.csv", SERVERS), info_file(box, tmp_path))
    assert report.counts == {"ready": SERVERS, "blocked": 0}
    after = box.world.snapshot()["resources"]

    added, removed, changed = worlddiff.changes(before, after)
    assert removed == set()
    assert dict(worlddiff.kinds({k: after[k] for k in added})) == EXPECTED_ADDITIONS
    assert all("stotherteam01" not in k and "rg-storage-other" not in k for k in added)
    # Every role assignment added is the vault identity's, at a storage account of the wave.
    vault_principal = next(iter(box.world.by_type("Microsoft.RecoveryServices/vaults")))["identity"]["principalId"]
    for k in added:
        if "/roleassignments/" in k:
            assert after[k]["properties"]["principalId"] == vault_principal
    # The only change to what existed: AzureServices added to the bypass of the accounts that deny
    # by default and lacked it; every rule and every other byte of them is kept.
    hub = f"{SUB}/resourceGroups/rg-network-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub-eastus".lower()
    subnet = f"{hub}/subnets/snet-private-endpoints"
    accounts = {f"{RG_STORAGE}/stfinrepl01".lower(), f"{RG_STORAGE}/stfincache01".lower()}
    assert changed == accounts | {hub, subnet}
    # Azure's own back-references: the endpoints' subnet lists the endpoints and NIC IP
    # configurations it hosts (in the subnet and in the VNet's copy of it). Nothing else moved.
    back_refs = ("ipConfigurations", "privateEndpoints")
    for path in worlddiff.leaf_differences(before[hub], after[hub]) + worlddiff.leaf_differences(
        before[subnet], after[subnet]
    ):
        assert path.split(":")[0].rsplit(".", 1)[-1] in back_refs and "'<absent>' != [" in path, path[:300]
    for k in accounts:
        old, new = before[k], after[k]
        acls_old, acls_new = old["properties"]["networkAcls"], new["properties"]["networkAcls"]
        assert acls_old["bypass"] == "Logging, Metrics" and acls_new["bypass"] == "Logging, Metrics, AzureServices"
        assert acls_new["ipRules"] == acls_old["ipRules"] and len(acls_new["ipRules"]) == 2
        assert acls_new["virtualNetworkRules"] == acls_old["virtualNetworkRules"]
        restored = {
            **new,
            "properties": {**new["properties"], "networkAcls": {**acls_new, "bypass": acls_old["bypass"]}},
        }
        volatile = {"etag"}  # an update gives the resource a new etag, as ARM does
        assert {a: b for a, b in restored.items() if a not in volatile} == {
            a: b for a, b in old.items() if a not in volatile
        }
    assert worlddiff.duplicates(after) == []
