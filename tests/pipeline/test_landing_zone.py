"""The private-link pipeline, end to end: real Prefect runs, the real SDK clients, real HTTPS and
real DNS packets against the sandbox. Nothing of ours is mocked."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from prefect.flow_runs import resume_flow_run

from flows.private_link import private_link_landing_zone
from plmigrate.demo import paused_run_id
from plmigrate.errors import InputError, StepFailed
from plmigrate.rules import ROLE_BLOB_DATA_CONTRIBUTOR, ROLE_BLOB_DATA_OWNER, ROLE_CONTRIBUTOR
from tests.conftest import Admin
from tests.pipeline.conftest import all_approvable, default_scenario, info_file

HUB = (
    "/subscriptions/00000000-0000-0000-0000-00000000a11e/resourceGroups/rg-network-hub"
    "/providers/Microsoft.Network/virtualNetworks/vnet-hub-eastus"
)


def writes(sandbox) -> int:
    return sandbox.world.call_report()["writes"]


def test_full_pipeline_then_a_rerun_makes_zero_writes(world, business_unit, tmp_path: Path) -> None:
    box = world(all_approvable(default_scenario()))
    target = info_file(box, tmp_path)
    report = private_link_landing_zone(str(business_unit()), target)

    assert report.vault.principal_id
    assert len(report.vault_endpoint.dns) == 6  # one FQDN per Site Recovery member
    assert all(ip.startswith("10.20.1.") for ips in report.vault_endpoint.dns.values() for ip in ips)
    assert {a.name: a.endpoint.connection.status for a in report.accounts} == {
        "stfinrepl01": "Approved",
        "stfinpremrepl01": "Approved",
        "stfincache01": "Approved",
    }
    assert all(r.ok for r in report.vault_dns) and all(r.ok for a in report.accounts for r in a.dns)
    assert report.writes > 0
    first = writes(box)

    state = private_link_landing_zone(str(business_unit()), target, return_state=True)
    again = state.result()
    assert writes(box) == first, "a re-run wrote to ARM"
    assert again.writes == 0
    assert again.vault_endpoint.dns == report.vault_endpoint.dns
    # Futures handed over as opaque(...) still draw the run's graph in the UI: each zone group,
    # DNS check and role grant records the task run it took its input from.
    expected = {"ensure-zone-group": 4, "verify-dns": 4, "grant-vault-roles": 3}
    inputs = upstream_of(state.state_details.flow_run_id, expected)
    assert {name: len(inputs.get(name, [])) for name in expected} == expected
    assert all({"ensure-private-endpoint", "ensure-private-dns-zone"} <= up for up in inputs["ensure-zone-group"])
    assert all("ensure-private-endpoint" in up for up in inputs["verify-dns"])
    assert all("ensure-vault" in up for up in inputs["grant-vault-roles"])
    # The resource groups exist: validation read them, and nothing waited for a task of their own.
    assert "ensure-resource-group" not in inputs and "inspect-resource-groups" in inputs


def test_missing_resource_groups_are_created_first_with_the_business_units_tags(
    world, business_unit, tmp_path: Path
) -> None:
    # The vault, the zones and the endpoints go into groups that do not exist yet: each waits for
    # its group's creation (ARM answers ResourceGroupNotFound to a write into a missing group).
    box = world(all_approvable(default_scenario()))
    target = info_file(box, tmp_path)
    bu = business_unit(resource_group="rg-migrate-new", dns_zone_resource_group="rg-dns-new")
    report = private_link_landing_zone(str(bu), target)

    sub = box.info.subscription_id
    for name in ("rg-migrate-new", "rg-dns-new"):
        group = box.world.get(f"/subscriptions/{sub}/resourceGroups/{name}")
        assert group is not None and group["tags"]["managed-by"] == "plmigrate"
    assert report.vault.id.lower().startswith(f"/subscriptions/{sub}/resourcegroups/rg-migrate-new/")
    assert all(z.lower().startswith(f"/subscriptions/{sub}/resourcegroups/rg-dns-new/") for z in report.zones)
    assert all("/resourcegroups/rg-migrate-new/" in a.endpoint.id.lower() for a in report.accounts)
    first = writes(box)
    private_link_landing_zone(str(bu), target)
    assert writes(box) == first, "a re-run wrote to ARM"


def upstream_of(flow_run_id, expected: dict[str, int], timeout: float = 60) -> dict[str, list[set[str]]]:
    """Per task name, the names of the task runs each of its runs took inputs from, as the Prefect
    server recorded them (task runs arrive as events: wait until `expected` counts are there)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            names = {r.id: r.name.rsplit("-", 1)[0] for r in runs}
            found: dict[str, list[set[str]]] = {}
            for r in runs:
                ups = {names.get(i.id, "?") for key, refs in r.task_inputs.items() if key != "__parents__" for i in refs
                       if hasattr(i, "id")}  # fmt: skip
                found.setdefault(names[r.id], []).append(ups)
            if all(len(found.get(n, [])) >= c for n, c in expected.items()) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def test_roles_by_sku_and_nothing_else(world, business_unit, tmp_path: Path) -> None:
    box = world(all_approvable(default_scenario()))
    report = private_link_landing_zone(str(business_unit()), info_file(box, tmp_path))
    principal = report.vault.principal_id
    mine = [
        r
        for r in box.world.by_type("Microsoft.Authorization/roleAssignments")
        if r["properties"]["principalId"] == principal
    ]
    granted = {
        (r["properties"]["scope"].split("/")[-1], r["properties"]["roleDefinitionId"].split("/")[-1]) for r in mine
    }
    assert granted == {
        ("stfinrepl01", ROLE_CONTRIBUTOR),
        ("stfinrepl01", ROLE_BLOB_DATA_CONTRIBUTOR),
        ("stfinpremrepl01", ROLE_CONTRIBUTOR),
        ("stfinpremrepl01", ROLE_BLOB_DATA_OWNER),
        ("stfincache01", ROLE_CONTRIBUTOR),
        ("stfincache01", ROLE_BLOB_DATA_CONTRIBUTOR),
    }
    assert len(mine) == 6
    assert all(r["properties"]["principalType"] == "ServicePrincipal" for r in mine)


def test_existing_network_rules_survive_the_trusted_services_change(world, business_unit, tmp_path: Path) -> None:
    box = world(all_approvable(default_scenario()))
    private_link_landing_zone(str(business_unit()), info_file(box, tmp_path))
    acct = next(r for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfinrepl01")
    acls = acct["properties"]["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert [b.strip() for b in acls["bypass"].split(",")] == ["Logging", "Metrics", "AzureServices"]
    assert [r["value"] for r in acls["ipRules"]] == ["203.0.113.0/24"]
    assert [r["id"].split("/")[-1] for r in acls["virtualNetworkRules"]] == ["snet-private-endpoints"]


def test_dns_without_a_forwarder_fails_with_the_fix_then_passes_once_added(
    world, business_unit, tmp_path: Path
) -> None:
    data = all_approvable(default_scenario())
    data["dns_forwarders"] = [f for f in data["dns_forwarders"] if f["zone"] != "eus.siterecovery.windowsazure.com"]
    box = world(data)
    target = info_file(box, tmp_path)
    with pytest.raises(StepFailed) as failed:
        private_link_landing_zone(str(business_unit()), target)
    text = str(failed.value)
    assert "verify DNS" in text and "-asr-pod01-" in text
    assert "conditional forwarder" in text and "eus.siterecovery.windowsazure.com" in text
    Admin(box).call("PUT", "/dns/forwarders", {"blob.core.windows.net": HUB, "eus.siterecovery.windowsazure.com": HUB})
    report = private_link_landing_zone(str(business_unit()), target)
    assert all(r.ok for r in report.vault_dns)


def test_principal_not_found_throttling_and_5xx_are_survived(world, business_unit, tmp_path: Path) -> None:
    data = all_approvable(default_scenario())
    # Long enough that the grants, which start once the vault exists, meet it under the write throttling.
    data["identity"] = {"principal_not_found_seconds": 6, "principal_not_found_even_with_type": True}
    data["throttling"] = {"writes": {"burst": 8, "per_second": 4}}
    data["faults"] = [
        {
            "method": "PUT",
            "resource_type": "Microsoft.Network/privateEndpoints",
            "status": 503,
            "code": "ServiceUnavailable",
            "sequence": [True, False, True],
        },
        {"method": "GET", "resource_type": "Microsoft.Storage/storageAccounts", "status": 500, "rate": 0.2, "seed": 7},
    ]
    box = world(data)
    report = private_link_landing_zone(str(business_unit()), info_file(box, tmp_path))
    assert all(a.endpoint.connection.status == "Approved" for a in report.accounts)
    calls = box.world.call_report()
    statuses = {r["status"] for r in calls["calls"]}
    assert 429 in statuses and 503 in statuses and 500 in statuses
    assert any(r["status"] == 400 and "roleAssignments" in r["resource_type"] for r in calls["calls"])


@pytest.mark.parametrize(
    ("change", "scenario_change", "expected"),
    [
        ({}, {"storage_kind": "Storage"}, "StorageV2"),
        ({"region": "atlantis"}, {}, "region"),
        (
            {
                "private_endpoint_subnet": {
                    "resource_group": "rg-network-hub",
                    "vnet": "vnet-hub-eastus",
                    "subnet": "snet-missing",
                }
            },
            {},
            "snet-missing",
        ),
    ],
    ids=["storage-v1", "unknown-region", "missing-subnet"],
)
def test_bad_input_is_a_clear_error_with_zero_writes(
    world, business_unit, tmp_path: Path, change, scenario_change, expected
) -> None:
    data = all_approvable(default_scenario())
    if "storage_kind" in scenario_change:
        data["storage_accounts"][0]["kind"] = scenario_change["storage_kind"]
    box = world(data)
    with pytest.raises(InputError) as bad:
        private_link_landing_zone(str(business_unit(**change)), info_file(box, tmp_path))
    assert expected in str(bad.value)
    assert writes(box) == 0


def _wait_for_paused(timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = paused_run_id()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("the flow run never paused")


def test_pending_connection_pauses_until_the_owner_approves(world, business_unit, tmp_path: Path) -> None:
    box = world(default_scenario())  # stfincache01's owner must approve
    target = info_file(box, tmp_path)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = private_link_landing_zone(str(business_unit()), target)
        except Exception as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    run_id = _wait_for_paused()
    account_id = next(
        r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfincache01"
    )
    Admin(box).call("POST", "/connections", {"target_id": account_id, "status": "Approved"})
    resume_flow_run(run_id, run_input={"approved_by": "storage team", "note": "ticket 42"})
    runner.join(120)
    assert "error" not in outcome, outcome.get("error")
    cache = next(a for a in outcome["report"].accounts if a.name == "stfincache01")
    assert cache.endpoint.connection.status == "Approved"
    # We may not approve on stfincache01: ARM refused the automatic connection (403
    # LinkedAuthorizationFailed) and the flow asked for a manual one, which the owner approved.
    assert cache.endpoint.connection.manual is True
    puts = {
        r["status"]: r["count"]
        for r in box.world.call_report()["calls"]
        if r["method"] == "PUT" and r["resource_type"] == "Microsoft.Network/privateEndpoints"
    }
    assert puts[403] == 1
    endpoint = box.world.get(cache.endpoint.id)
    assert endpoint["properties"]["privateLinkServiceConnections"] == []
    assert [
        c["properties"]["privateLinkServiceId"] for c in endpoint["properties"]["manualPrivateLinkServiceConnections"]
    ] == [account_id]


def test_rejected_connection_fails_with_what_to_do(world, business_unit, tmp_path: Path) -> None:
    box = world(default_scenario())
    target = info_file(box, tmp_path)
    outcome: dict = {}

    def run() -> None:
        try:
            private_link_landing_zone(
                str(business_unit(approval={"pause_in_ui": False, "timeout_seconds": 30, "poll_seconds": 0.5})), target
            )
        except Exception as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    account_id = next(
        r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfincache01"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not box.world.children(account_id, "privateEndpointConnections"):
        time.sleep(0.2)
    Admin(box).call("POST", "/connections", {"target_id": account_id, "status": "Rejected"})
    runner.join(120)
    error = outcome.get("error")
    assert isinstance(error, StepFailed), error
    assert "Rejected" in str(error) and "stfincache01" in str(error)


def test_a_subscription_of_another_tenant_is_refused_before_any_write(world, business_unit, tmp_path: Path) -> None:
    box = world(all_approvable(default_scenario()))
    with pytest.raises(InputError) as bad:
        private_link_landing_zone(
            str(business_unit(tenant_id="99999999-0000-0000-0000-000000000000")), info_file(box, tmp_path)
        )
    assert "tenant_id: subscription 00000000-0000-0000-0000-00000000a11e belongs to tenant" in str(bad.value)
    assert writes(box) == 0
