"""Crash and resume, the fast subset of bench/chaos.py: a wave process SIGKILLed at seeded points,
then run again until it finishes. It must converge with nothing duplicated or orphaned, and finish
whatever the crashes left half-made.

The wave runs as `python -m plmigrate wave ...` in its own process (so it can be killed), against
the sandbox of this test (which outlives it) and the session's Prefect test server. Kill points are
counted in ARM writes rather than seconds, so they land mid-work on a slow machine too.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from bench.chaos import (
    OTHER_PRINCIPALS,
    WAVE,
    chaos_scenario,
    inspect_state,
    run_wave,
    servers_lost,
    write_business_unit,
)
from plmigrate.model import load_business_unit
from plmigrate.sandbox.serve import AdminClient
from tests.pipeline.test_wave import write_inventory

SEED = 5
KILLS = 3


def _wave_env(tmp_path: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return os.environ | {
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def test_a_wave_killed_at_seeded_points_converges_without_duplicates_or_orphans(world, tmp_path) -> None:
    box = world(chaos_scenario(lro_seconds=0.5))
    info = tmp_path / "info.json"
    box.info.write(info)
    admin = AdminClient(box.info)
    env = _wave_env(tmp_path)
    bu_file = write_business_unit(tmp_path / "bu.yaml")
    bu = load_business_unit(bu_file)
    inventory = write_inventory(tmp_path / "wave.csv", 24, wave=WAVE)

    # A fault-free wave makes ~20 writes (vault, 4 endpoints, 2 zones, 2 links, 4 zone groups,
    # 6 role assignments, 1 firewall update): kill after the k-th of them, k seeded and rising.
    thresholds = sorted(random.Random(SEED).sample(range(1, 18), KILLS))
    half_made: list[str] = []
    for i, threshold in enumerate(thresholds):
        result = run_wave(
            env, bu_file, inventory, info, tmp_path / f"kill-{i}.log", kill_when=lambda t=threshold: _writes(box) >= t
        )
        assert result.killed, f"kill point {i} (after write {threshold}): the wave ended first ({result.exit_code})"
        found = inspect_state(admin.call("GET", "/state"), bu)
        assert found.duplicates == [] and found.orphans == [], (i, found)
        half_made += found.half_made

    final = run_wave(env, bu_file, inventory, info, tmp_path / "final.log")
    assert final.exit_code == 0, (tmp_path / "final.log").read_text()[-2000:]
    assert {s["state"] for s in final.report["servers"]} == {"ready"}
    assert servers_lost(final.report, inventory) == 0
    found = inspect_state(admin.call("GET", "/state"), bu)
    assert found.duplicates == [] and found.orphans == []
    assert found.half_made == [], f"left half-made: {found.half_made} (seen after kills: {half_made})"
    endpoints = box.world.by_type("Microsoft.Network/privateEndpoints")
    assert sorted(e["name"] for e in endpoints) == [
        "pe-rsv-finance-eastus-azuresiterecovery", "pe-stfincache01-blob", "pe-stfinpremrepl01-blob",
        "pe-stfinrepl01-blob",
    ]  # fmt: skip
    assert len(box.world.by_type("Microsoft.Network/networkInterfaces")) == 4
    roles = box.world.by_type("Microsoft.Authorization/roleAssignments")
    assert len([r for r in roles if r["properties"]["principalId"] not in OTHER_PRINCIPALS]) == 6


def _writes(box) -> int:
    return int(box.world.call_report()["writes"])


def test_inspection_finds_a_duplicate_endpoint_an_orphan_nic_and_a_half_made_endpoint(world, tmp_path) -> None:
    """The checks above can fail: a state with a twin endpoint, a stray NIC and an endpoint
    without its zone group is reported as such."""
    box = world(chaos_scenario(lro_seconds=0))
    bu = load_business_unit(write_business_unit(tmp_path / "bu.yaml"))
    state = box.world.snapshot()
    sub = box.info.subscription_id
    rg = f"/subscriptions/{sub}/resourceGroups/{bu.resource_group}/providers/Microsoft.Network"
    target = f"/subscriptions/{sub}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/x"
    for name in ("pe-stfinrepl01-blob", "pe-twin"):
        state["resources"][f"{rg}/privateendpoints/{name}".lower()] = {
            "id": f"{rg}/privateEndpoints/{name}",
            "name": name,
            "type": "Microsoft.Network/privateEndpoints",
            "properties": {
                "provisioningState": "Succeeded",
                "networkInterfaces": [{"id": f"{rg}/networkInterfaces/{name}.nic"}],
                "privateLinkServiceConnections": [
                    {
                        "properties": {
                            "privateLinkServiceId": target,
                            "groupIds": ["blob"],
                            "privateLinkServiceConnectionState": {"status": "Approved"},
                        }
                    }
                ],
            },
        }
        state["resources"][f"{rg}/networkinterfaces/{name}.nic".lower()] = {
            "id": f"{rg}/networkInterfaces/{name}.nic",
            "name": f"{name}.nic",
            "type": "Microsoft.Network/networkInterfaces",
            "properties": {"privateEndpoint": {"id": f"{rg}/privateEndpoints/{name}"}},
        }
    state["resources"]["stray"] = {
        "id": f"{rg}/networkInterfaces/stray.nic",
        "name": "stray.nic",
        "type": "Microsoft.Network/networkInterfaces",
        "properties": {"privateEndpoint": {"id": f"{rg}/privateEndpoints/gone"}},
    }
    found = inspect_state(state, bu)
    assert found.duplicates == [f"2 private endpoints for {target.lower()} (blob)"]
    assert sorted(found.orphans) == [
        f"NIC {rg}/networkInterfaces/stray.nic belongs to endpoint {rg.lower()}/privateendpoints/gone, "
        "which does not exist",
        f"private endpoint {rg}/privateEndpoints/pe-twin is not one plmigrate makes for finance",
    ]
    assert found.half_made_kinds == {"endpoint without zone group": 2}


@pytest.mark.parametrize(
    "resource_type", ["Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/virtualNetworkLinks"]
)
def test_a_zone_or_link_left_failed_is_finished_by_the_wave(world, tmp_path, resource_type) -> None:
    """A private DNS zone or VNet link whose long-running PUT ended Failed is PUT again (fixed in
    f62878f; before it, a Failed zone stayed Failed under a run that exited 0, and a Failed link left
    every server blocked on DNS)."""
    from flows.wave import WaveRun, migration_wave

    scenario = chaos_scenario(lro_seconds=0)
    # The first long-running PUT of this type is accepted, then ends Failed; the task's retry follows.
    scenario["faults"] = [{"method": "PUT", "resource_type": resource_type, "lro_failure": True, "sequence": [True]}]
    box = world(scenario)
    info = tmp_path / "info.json"
    box.info.write(info)
    bu_file = write_business_unit(tmp_path / "bu.yaml")
    inventory = write_inventory(tmp_path / "wave.csv", 8, wave=WAVE)
    report = migration_wave(
        WaveRun(business_unit_file=str(bu_file), inventory_file=str(inventory), wave=WAVE, target=f"sandbox:{info}")
    )
    assert report.counts == {"ready": 8, "blocked": 0}
    left = inspect_state(box.world.snapshot(), load_business_unit(bu_file)).half_made
    assert left == []
