"""Never clobber, never hang (issue 12): what is not ours stays untouched, every wait has a deadline.

Each case was reproduced on the sandbox before its fix; each test drives the real tasks (their
`.fn`, through the real SDK clients) against a sandbox seeded the way the hostile world was, and
checks that what belongs to someone else is byte-for-byte as it was. The sandbox refusals the
fixes rely on (Azure's own: docs/sandbox.md) are checked here too, through the SDK.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from prefect.logging import disable_run_logger

import plmigrate.azure as azure_module
from plmigrate.azure import Target, clients
from plmigrate.errors import StepFailed
from plmigrate.naming import endpoint_name, vnet_link_name
from plmigrate.rules import BLOB_ZONE, rejected_message
from plmigrate.sandbox import Sandbox
from tasks.network import ensure_private_dns_zone, ensure_private_endpoint, ensure_zone_group
from tasks.retrying import read_settled, run_deadline
from tasks.vault import ensure_vault
from tests.pipeline.conftest import all_approvable, default_scenario

SUB = "00000000-0000-0000-0000-00000000a11e"
HUB_RG, SPOKE_RG, PE_RG, DNS_RG = "rg-network-hub", "rg-network-spoke", "rg-migrate-finance", "rg-network-hub"
VNET = "vnet-hub-eastus"
HUB_VNET = f"/subscriptions/{SUB}/resourceGroups/{HUB_RG}/providers/Microsoft.Network/virtualNetworks/{VNET}"
SPOKE_VNET = f"/subscriptions/{SUB}/resourceGroups/{SPOKE_RG}/providers/Microsoft.Network/virtualNetworks/{VNET}"
SUBNET = f"{HUB_VNET}/subnets/snet-private-endpoints"


def scenario(**changes: Any) -> dict[str, Any]:
    """The default world with a second VNet of the hub's name in another resource group."""
    data = all_approvable(default_scenario(**changes))
    data["resource_groups"].append({"name": SPOKE_RG, "location": "eastus"})
    data["virtual_networks"].append(
        {
            "resource_group": SPOKE_RG,
            "name": VNET,
            "location": "eastus",
            "address_prefixes": ["10.30.0.0/16"],
            "subnets": [{"name": "snet-app", "address_prefix": "10.30.1.0/24"}],
        }
    )
    return data


def account_id(box: Sandbox, name: str) -> str:
    return next(r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == name)


def endpoint_args(box: Sandbox, account: str, **changes: Any) -> dict[str, Any]:
    args = {
        "resource_group": PE_RG,
        "name": endpoint_name(account, "blob"),
        "location": "eastus",
        "subnet_id": SUBNET,
        "target_id": account_id(box, account),
        "group_id": "blob",
        "tags": {"managed-by": "plmigrate"},
    }
    return args | changes


def frozen(box: Sandbox, resource_id: str) -> dict[str, Any]:
    found = box.world.get(resource_id)
    assert found is not None, resource_id
    return copy.deepcopy(found)


def writes(box: Sandbox) -> int:
    return box.world.call_report()["writes"]


# -- 1, 2: VNet links ------------------------------------------------------------------------
def test_two_vnets_of_one_name_get_two_links_and_a_rerun_writes_nothing(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    assert vnet_link_name(HUB_VNET) != vnet_link_name(SPOKE_VNET)
    with disable_run_logger():
        ensure_private_dns_zone.fn(
            target, resource_group=DNS_RG, zone=BLOB_ZONE, vnet_ids=[HUB_VNET, SPOKE_VNET], tags={}
        )
        links = clients(target).privatedns.virtual_network_links.list(DNS_RG, BLOB_ZONE)
        linked = {link.virtual_network.id.lower(): link.name for link in links}
        assert set(linked) == {HUB_VNET.lower(), SPOKE_VNET.lower()} and len(set(linked.values())) == 2
        before = writes(box)
        ensure_private_dns_zone.fn(
            target, resource_group=DNS_RG, zone=BLOB_ZONE, vnet_ids=[HUB_VNET, SPOKE_VNET], tags={}
        )
    assert writes(box) == before, "a converged zone was written again"


def test_a_link_of_our_name_to_another_vnet_is_refused_not_repointed(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    az = clients(target)
    az.privatedns.private_zones.begin_create_or_update(DNS_RG, BLOB_ZONE, {"location": "global"}).result()
    theirs = {
        "location": "global",
        "tags": {"owner": "spoke-team"},
        "properties": {"virtualNetwork": {"id": SPOKE_VNET}, "registrationEnabled": False},
    }
    name = vnet_link_name(HUB_VNET)
    link_id = az.privatedns.virtual_network_links.begin_create_or_update(DNS_RG, BLOB_ZONE, name, theirs).result().id
    before = frozen(box, link_id)
    with disable_run_logger(), pytest.raises(StepFailed) as failed:
        ensure_private_dns_zone.fn(target, resource_group=DNS_RG, zone=BLOB_ZONE, vnet_ids=[HUB_VNET], tags={})
    assert SPOKE_VNET in failed.value.reason and "link vnet delete" in failed.value.fix
    assert box.world.get(link_id) == before


def test_the_sandbox_refuses_to_change_a_links_vnet(world) -> None:
    box = world(scenario())
    az = clients(Target.sandbox(box.info))
    az.privatedns.private_zones.begin_create_or_update(DNS_RG, BLOB_ZONE, {"location": "global"}).result()
    body = {"location": "global", "properties": {"virtualNetwork": {"id": SPOKE_VNET}, "registrationEnabled": False}}
    az.privatedns.virtual_network_links.begin_create_or_update(DNS_RG, BLOB_ZONE, "link-x", body).result()
    body["properties"]["virtualNetwork"]["id"] = HUB_VNET
    with pytest.raises(HttpResponseError) as refused:
        az.privatedns.virtual_network_links.begin_create_or_update(DNS_RG, BLOB_ZONE, "link-x", body).result()
    assert refused.value.status_code == 400 and "cannot be changed" in str(refused.value)


# -- 3: vault repair -------------------------------------------------------------------------
def test_a_failed_vault_is_repaired_with_its_own_tags_and_closed_public_access(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    az = clients(target)
    body = {
        "location": "eastus",
        "tags": {"owner": "backup-team", "cost-center": "42"},
        "sku": {"name": "Standard"},
        "properties": {"publicNetworkAccess": "Disabled"},
    }
    vault_id = az.recoveryservices.vaults.begin_create_or_update(PE_RG, "rsv-finance-eastus", body).result().id
    with box.world.lock:
        box.world.resources[vault_id.lower()]["properties"]["provisioningState"] = "Failed"
    with disable_run_logger():
        facts = ensure_vault.fn(target, PE_RG, "rsv-finance-eastus", "eastus", {"managed-by": "plmigrate"})
    vault = box.world.get(vault_id)
    assert vault is not None and facts.written
    assert vault["tags"] == {"owner": "backup-team", "cost-center": "42"}
    assert vault["properties"]["publicNetworkAccess"] == "Disabled"
    assert vault["properties"]["provisioningState"] == "Succeeded"
    assert "SystemAssigned" in vault["identity"]["type"]


def test_a_vault_of_our_name_in_another_region_is_refused(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    body = {"location": "westus", "sku": {"name": "Standard"}, "properties": {}}
    vault_id = clients(target).recoveryservices.vaults.begin_create_or_update(PE_RG, "rsv-x", body).result().id
    before = frozen(box, vault_id)
    with disable_run_logger(), pytest.raises(StepFailed, match="westus"):
        ensure_vault.fn(target, PE_RG, "rsv-x", "eastus", {})
    assert box.world.get(vault_id) == before


# -- 4: endpoints ----------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["Failed", "Succeeded"])
def test_a_foreign_endpoint_of_our_name_is_refused_whatever_its_state(world, state: str) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    with disable_run_logger():
        # Someone else's endpoint to another account, under the name we would give ours.
        theirs = ensure_private_endpoint.fn(
            target, **endpoint_args(box, "stfinpremrepl01", name=endpoint_name("stfinrepl01", "blob"), tags={"o": "x"})
        )
        with box.world.lock:
            box.world.resources[theirs.id.lower()]["properties"]["provisioningState"] = state
        before = frozen(box, theirs.id)
        other_account = frozen(box, account_id(box, "stfinpremrepl01"))
        connections_before = box.world.children(account_id(box, "stfinpremrepl01"), "privateEndpointConnections")
        count = writes(box)
        with pytest.raises(StepFailed) as failed:
            ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
    assert "stfinpremrepl01" in failed.value.reason and "private-endpoint delete" in failed.value.fix
    assert writes(box) == count
    assert box.world.get(theirs.id) == before
    assert box.world.get(account_id(box, "stfinpremrepl01")) == other_account
    assert box.world.children(account_id(box, "stfinpremrepl01"), "privateEndpointConnections") == connections_before


def test_our_failed_endpoint_is_repaired_keeping_its_tags(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    with disable_run_logger():
        ours = ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
        with box.world.lock:
            stored = box.world.resources[ours.id.lower()]
            stored["properties"]["provisioningState"] = "Failed"
            stored["tags"] = {"managed-by": "plmigrate", "ticket": "CHG-1"}
        facts = ensure_private_endpoint.fn(
            target, **endpoint_args(box, "stfinrepl01", tags={"managed-by": "plmigrate"})
        )
    stored = box.world.get(ours.id)
    assert facts.written and stored is not None and stored["properties"]["provisioningState"] == "Succeeded"
    assert stored["tags"] == {"managed-by": "plmigrate", "ticket": "CHG-1"}


def test_the_sandbox_refuses_to_retarget_an_endpoint(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    with disable_run_logger():
        ours = ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
    body = {
        "location": "eastus",
        "properties": {
            "subnet": {"id": SUBNET},
            "privateLinkServiceConnections": [
                {
                    "name": ours.name,
                    "properties": {"privateLinkServiceId": account_id(box, "stfinpremrepl01"), "groupIds": ["blob"]},
                }
            ],
        },
    }
    with pytest.raises(HttpResponseError) as refused:
        clients(target).network.private_endpoints.begin_create_or_update(PE_RG, ours.name, body).result()
    assert "CannotChangePrivateLinkConnectionOnPrivateEndpoint" in str(refused.value)


# -- 5: zone groups --------------------------------------------------------------------------
def _zone(target: Target, resource_group: str) -> str:
    poller = clients(target).privatedns.private_zones.begin_create_or_update(
        resource_group, BLOB_ZONE, {"location": "global"}
    )
    return poller.result().id


def _group(target: Target, endpoint: str, group: str, zone_id: str) -> None:
    body = {"properties": {"privateDnsZoneConfigs": [{"name": "cfg", "properties": {"privateDnsZoneId": zone_id}}]}}
    clients(target).network.private_dns_zone_groups.begin_create_or_update(PE_RG, endpoint, group, body).result()


def test_a_zone_group_naming_another_zone_of_the_same_name_is_reported_with_the_fix(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    ours, theirs = _zone(target, DNS_RG), _zone(target, SPOKE_RG)
    with disable_run_logger():
        endpoint = ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
        _group(target, endpoint.name, "default", theirs)
        group_id = f"{endpoint.id}/privateDnsZoneGroups/default"
        before, count = frozen(box, group_id), writes(box)
        for _ in range(2):  # and again: a re-run must not "fix" it by appending
            with pytest.raises(StepFailed) as failed:
                ensure_zone_group.fn(target, endpoint, [ours])
    assert theirs in failed.value.reason and "DuplicateResourceName" in failed.value.reason
    assert f"dns-zone-group update --resource-group {PE_RG} --endpoint-name {endpoint.name}" in failed.value.fix
    assert ours in failed.value.fix
    assert writes(box) == count and box.world.get(group_id) == before


def test_the_sandbox_refuses_two_zones_of_one_name_in_a_group(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    ours, theirs = _zone(target, DNS_RG), _zone(target, SPOKE_RG)
    with disable_run_logger():
        endpoint = ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
    configs = [
        {"name": "a", "properties": {"privateDnsZoneId": ours}},
        {"name": "b", "properties": {"privateDnsZoneId": theirs}},
    ]
    with pytest.raises(HttpResponseError) as refused:
        clients(target).network.private_dns_zone_groups.begin_create_or_update(
            PE_RG, endpoint.name, "default", {"properties": {"privateDnsZoneConfigs": configs}}
        ).result()
    assert refused.value.status_code == 400 and "DuplicateResourceName" in str(refused.value.response.text())


def test_a_policy_made_zone_group_is_adopted_when_right_and_reported_when_not(world) -> None:
    box = world(scenario())
    target = Target.sandbox(box.info)
    ours = _zone(target, DNS_RG)
    with disable_run_logger():
        endpoint = ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
        _group(target, endpoint.name, "deployedByPolicy", ours)
        count = writes(box)
        assert ensure_zone_group.fn(target, endpoint, [ours]) is False
        assert writes(box) == count
        # Now a policy group pointing at some other zone only: reported, with the exact fix.
        poller = clients(target).privatedns.private_zones.begin_create_or_update(
            SPOKE_RG, "privatelink.file.core.windows.net", {"location": "global"}
        )
        other = poller.result().id
        _group(target, endpoint.name, "deployedByPolicy", other)
        with pytest.raises(StepFailed) as failed:
            ensure_zone_group.fn(target, endpoint, [ours])
    assert "deployedByPolicy" in failed.value.reason and "OnlyOnePrivateDnsZoneGroup" in failed.value.reason
    assert "dns-zone-group delete" in failed.value.fix and "--name deployedByPolicy" in failed.value.fix


# -- 6: approval wording ---------------------------------------------------------------------
def test_an_approval_that_timed_out_is_not_told_to_delete_anything() -> None:
    endpoint = f"/subscriptions/{SUB}/resourceGroups/{PE_RG}/providers/Microsoft.Network/privateEndpoints/pe-x-blob"
    text = rejected_message("stfincache01", "rg-storage-finance", "Pending", endpoint)
    assert "still Pending" in text and "re-run" in text
    assert "delete" not in text.lower() and "removed" not in text.lower()
    assert "delete" in rejected_message("stfincache01", "rg-storage-finance", "Disconnected", endpoint).lower()


# -- 7: deadlines ----------------------------------------------------------------------------
def test_an_endpoint_put_that_never_finishes_fails_at_the_deadline(world) -> None:
    data = scenario(
        latencies=[{"method": "PUT", "resource_type": "Microsoft.Network/privateEndpoints", "seconds": 100000}]
    )
    box = world(data)
    target = Target.sandbox(box.info).timed(type("T", (), {"operation_seconds": 2.0})())
    started = time.monotonic()
    with disable_run_logger(), pytest.raises(StepFailed) as failed:
        ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
    assert time.monotonic() - started < 10
    assert "still InProgress after 2 s" in failed.value.reason and failed.value.step == "create endpoint"
    assert "pe-stfinrepl01-blob" in failed.value.resource


def test_a_retry_after_past_the_deadline_fails_at_once_and_a_long_one_is_logged(world, monkeypatch, caplog) -> None:
    fault = {
        "method": "PUT",
        "resource_type": "Microsoft.Network/privateEndpoints",
        "status": 429,
        "code": "TooManyRequests",
        "message": "throttled",
        "retry_after": 300,
        "sequence": [True],
    }
    box = world(scenario(faults=[fault]))
    target = Target.sandbox(box.info).timed(type("T", (), {"operation_seconds": 5.0})())
    started = time.monotonic()
    with disable_run_logger(), pytest.raises(StepFailed) as failed:
        ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
    assert time.monotonic() - started < 5, "the call slept through a Retry-After past its deadline"
    assert "Retry-After 300 s" in failed.value.reason and "PUT" in failed.value.resource

    # A Retry-After within the deadline is honoured, and a long one says so in the log.
    monkeypatch.setattr(azure_module, "LONG_RETRY_AFTER_SECONDS", 1.0)
    box = world(scenario(faults=[fault | {"retry_after": 1}]))
    target = Target.sandbox(box.info).timed(type("T", (), {"operation_seconds": 30.0})())
    with disable_run_logger(), caplog.at_level(logging.WARNING, logger="plmigrate.azure"):
        facts = ensure_private_endpoint.fn(target, **endpoint_args(box, "stfinrepl01"))
    assert facts.written
    assert any("Retry-After 1 s: waiting" in r.getMessage() for r in caplog.records)


def test_an_operation_left_running_is_waited_for_only_until_the_deadline() -> None:
    resource = {
        "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe",
        "properties": {"provisioningState": "Updating"},
    }
    started = time.monotonic()
    with pytest.raises(StepFailed, match="still Updating after 1 s"):
        read_settled(lambda: resource, timeout_seconds=1, poll_seconds=0.2)
    assert time.monotonic() - started < 3


def test_the_run_deadline_ends_a_run_that_would_hang() -> None:
    started = time.monotonic()
    with pytest.raises(StepFailed, match=r"timeouts\.run_seconds"), run_deadline(1, "wave wave-01 of finance"):
        while time.monotonic() - started < 30:  # a flow body that never ends
            time.sleep(0.1)
    assert time.monotonic() - started < 5
