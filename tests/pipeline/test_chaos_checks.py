"""The chaos benchmark's checks can fail: a clobbered seeded resource, a wrong A-record address or
a role for the wrong principal each show (bench/chaos.py: foreign_view, clobbered, digest)."""

from __future__ import annotations

import copy
from pathlib import Path

from bench.chaos import chaos_scenario, clobbered, digest, foreign_view, seed_world


def test_seeded_state_is_checked_byte_for_byte_and_addresses_and_principals_count(make_sandbox, tmp_path: Path) -> None:
    box = make_sandbox(chaos_scenario(lro_seconds=0))
    info = tmp_path / "info.json"
    box.info.write(info)
    seed_world(info)
    state = box.world.snapshot()
    before = foreign_view(state)
    kinds = {r["type"].lower() for r in before.values()}
    assert kinds == {
        "microsoft.storage/storageaccounts",
        "microsoft.recoveryservices/vaults",
        "microsoft.network/privatednszones/virtualnetworklinks",
        "microsoft.network/privatednszones/a",
        "microsoft.authorization/roleassignments",
    }
    assert clobbered(before, state) == []

    # What plmigrate may change on a seeded resource is not a clobber ...
    changed = copy.deepcopy(state)
    account = next(r for r in changed["resources"].values() if r["type"] == "Microsoft.Storage/storageAccounts")
    account["properties"]["networkAcls"]["bypass"] = "Logging, Metrics, AzureServices"
    assert clobbered(before, changed) == []
    # ... a lost IP rule, new tags on someone's link or vault, opened public access are.
    account["properties"]["networkAcls"]["ipRules"] = []
    link = next(r for r in changed["resources"].values() if r["type"].endswith("virtualNetworkLinks"))
    link["tags"] = {"managed-by": "plmigrate"}
    vault = next(r for r in changed["resources"].values() if r["type"] == "Microsoft.RecoveryServices/vaults")
    vault["properties"]["publicNetworkAccess"] = "Enabled"
    found = clobbered(before, changed)
    assert len(found) == 3 and any("ipRules" in f for f in found) and any("publicNetworkAccess" in f for f in found)

    # The digest keeps which address an A record holds and which principal a role is for.
    reference, _ = digest(state)
    wrong_ip = copy.deepcopy(state)
    record = next(r for r in wrong_ip["resources"].values() if r["type"].endswith("privateDnsZones/A"))
    record["properties"]["aRecords"] = [{"ipv4Address": "10.30.1.99"}]
    assert digest(wrong_ip)[0] != reference
    wrong_principal = copy.deepcopy(state)
    role = next(r for r in wrong_principal["resources"].values() if r["type"].endswith("roleAssignments"))
    role["properties"]["principalId"] = "aaaaaaaa-0000-0000-0000-0000000000ff"
    assert digest(wrong_principal)[0] != reference
    # A fresh ETag is no difference.
    same = copy.deepcopy(state)
    next(r for r in same["resources"].values() if r["type"].endswith("privateDnsZones/A"))["etag"] = "x"
    assert digest(same)[0] == reference
