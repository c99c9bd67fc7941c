"""Microsoft.Network in the sandbox through the real azure-mgmt-network client: VNets and subnets,
private endpoints (IPs, NICs, FQDNs, connection approval), private DNS zone groups, error paths.

Targets (storage accounts, vaults) and private DNS zones are put straight into the world, so these
tests do not depend on the providers that make them.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox, connections
from plmigrate.sandbox.providers import privatedns
from plmigrate.sandbox.scenario import FaultSeed, LatencySeed

EXAMPLES = Path(__file__).resolve().parents[1] / "contract" / "azure-examples" / "network"
SUB = "00000000-0000-0000-0000-00000000a11e"
NET_RG = "rg-net"
PE_RG = "rg-pe"
TARGET_RG = "rg-targets"
VNET = "vnet-hub"
VNET_ID = f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/virtualNetworks/{VNET}"
PE_SUBNET_ID = f"{VNET_ID}/subnets/snet-pe"
TINY_SUBNET_ID = f"{VNET_ID}/subnets/snet-tiny"
SCENARIO: dict[str, Any] = {
    "subscription_id": SUB,
    "resource_groups": [
        {"name": NET_RG, "location": "eastus"},
        {"name": PE_RG, "location": "eastus"},
        {"name": TARGET_RG, "location": "eastus"},
        {"name": "rg-other", "location": "eastus"},
    ],
    "virtual_networks": [
        {
            "resource_group": NET_RG,
            "name": VNET,
            "location": "eastus",
            "address_prefixes": ["10.20.0.0/16"],
            "subnets": [
                {"name": "snet-pe", "address_prefix": "10.20.1.0/24"},
                # 8 addresses: 4 reserved at the start and the broadcast leave 3 usable.
                {"name": "snet-tiny", "address_prefix": "10.20.2.0/29"},
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def started(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(SCENARIO)


@pytest.fixture
def box(started: Sandbox) -> Sandbox:
    """One sandbox for the module, re-seeded from the scenario for every test."""
    started.app.reset()
    return started


@pytest.fixture
def net(box: Sandbox) -> AzureClients:
    return clients(Target.sandbox(box.info))


# -- world helpers: targets and zones made the way their providers would --------------------------
def put_storage(box: Sandbox, name: str, *, may_approve: bool = True) -> str:
    rid = f"/subscriptions/{SUB}/resourceGroups/{TARGET_RG}/providers/Microsoft.Storage/storageAccounts/{name}"
    box.world.put(
        {
            "id": rid,
            "name": name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": "eastus",
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {"provisioningState": "Succeeded"},
        }
    )
    box.world.meta_of(rid)["principal_may_approve"] = may_approve
    return rid


def put_vault(box: Sandbox, name: str, *, identity: bool = True, numeric_id: str | None = "4781629537102938456") -> str:
    rid = f"/subscriptions/{SUB}/resourceGroups/{TARGET_RG}/providers/Microsoft.RecoveryServices/vaults/{name}"
    vault: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults",
        "location": "eastus",
        "sku": {"name": "Standard"},
        "properties": {"provisioningState": "Succeeded"},
    }
    if identity:
        vault["identity"] = {"type": "SystemAssigned", "principalId": "p-1", "tenantId": "t-1"}
    box.world.put(vault)
    if numeric_id:
        box.world.meta_of(rid)["numeric_id"] = numeric_id
    return rid


def put_zone(box: Sandbox, zone: str) -> str:
    rid = f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/privateDnsZones/{zone}"
    box.world.put(
        {
            "id": rid,
            "name": zone,
            "type": "Microsoft.Network/privateDnsZones",
            "location": "global",
            "properties": {"provisioningState": "Succeeded", "numberOfRecordSets": 1},
        }
    )
    return rid


def pe_body(
    target_id: str, group: str, *, manual: bool = False, subnet_id: str = PE_SUBNET_ID, **props: Any
) -> dict[str, Any]:
    connection = {
        "name": "conn",
        "properties": {"privateLinkServiceId": target_id, "groupIds": [group], "requestMessage": "plmigrate"},
    }
    lists = "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    return {"location": "eastus", "properties": {"subnet": {"id": subnet_id}, lists: [connection], **props}}


def create_pe(net: AzureClients, name: str, body: dict[str, Any], rg: str = PE_RG) -> Any:
    return net.network.private_endpoints.begin_create_or_update(rg, name, body).result()


def statuses(box: Sandbox, method: str, resource_type: str) -> list[int]:
    """HTTP statuses the sandbox answered for a method and type, one entry per call."""
    rows = box.world.call_report()["calls"]
    return sorted(
        s
        for r in rows
        if r["method"] == method and r["resource_type"] == resource_type
        for s in [r["status"]] * r["count"]
    )


def approve_as_owner(box: Sandbox, target_id: str) -> None:
    """What the target's owner does (sandbox admin API): approve every pending connection."""
    request = urllib.request.Request(
        box.info.admin_url + "/connections",
        data=json.dumps({"target_id": target_id, "status": "Approved"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {box.info.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=box.info.ca_file)) as response:
        assert response.status == 200


def arm_error(info: pytest.ExceptionInfo[HttpResponseError]) -> tuple[int, str, str]:
    return info.value.status_code, info.value.error.code, info.value.error.message


# -- virtual networks and subnets ------------------------------------------------------------------
def test_seeded_vnet_shows_its_subnets_and_subnets_are_gettable(net: AzureClients) -> None:
    vnet = net.network.virtual_networks.get(NET_RG, VNET)
    assert vnet.id == VNET_ID and vnet.address_space.address_prefixes == ["10.20.0.0/16"]
    assert [(s.name, s.address_prefix) for s in vnet.subnets] == [
        ("snet-pe", "10.20.1.0/24"),
        ("snet-tiny", "10.20.2.0/29"),
    ]
    subnet = net.network.subnets.get(NET_RG, VNET, "SNET-PE")
    assert subnet.id == PE_SUBNET_ID and subnet.provisioning_state == "Succeeded"
    with pytest.raises(ResourceNotFoundError):
        net.network.subnets.get(NET_RG, VNET, "snet-missing")


def test_vnets_of_the_whole_subscription_are_listed(net: AzureClients) -> None:
    body = {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.60.0.0/16"]}}}
    net.network.virtual_networks.begin_create_or_update("rg-other", "vnet-elsewhere", body).result()
    everywhere = {v.name: v.id for v in net.network.virtual_networks.list_all()}
    assert everywhere[VNET] == VNET_ID and "vnet-elsewhere" in everywhere
    assert [v.name for v in net.network.virtual_networks.list("rg-other")] == ["vnet-elsewhere"]


def test_vnet_and_subnet_create_or_update_through_the_lro(box: Sandbox, net: AzureClients) -> None:
    body = {
        "location": "eastus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.50.0.0/16", "10.51.0.0/24"]},
            "subnets": [{"name": "a", "properties": {"addressPrefix": "10.50.1.0/24"}}],
        },
    }
    created = net.network.virtual_networks.begin_create_or_update(NET_RG, "vnet-new", body).result()
    assert [s.name for s in created.subnets] == ["a"]
    subnet = net.network.subnets.begin_create_or_update(
        NET_RG, "vnet-new", "b", {"properties": {"addressPrefix": "10.51.0.0/26"}}
    ).result()
    assert subnet.address_prefix == "10.51.0.0/26"
    again = net.network.subnets.begin_create_or_update(
        NET_RG, "vnet-new", "b", {"properties": {"addressPrefix": "10.51.0.0/26"}}
    ).result()
    assert again.id == subnet.id
    vnet = net.network.virtual_networks.get(NET_RG, "vnet-new")
    assert sorted((s.name, s.address_prefix) for s in vnet.subnets) == [("a", "10.50.1.0/24"), ("b", "10.51.0.0/26")]
    # Created once (201), then updated (200), for both the VNet's subnet and the child resource.
    assert statuses(box, "PUT", "Microsoft.Network/virtualNetworks/subnets") == [200, 201]
    assert statuses(box, "PUT", "Microsoft.Network/virtualNetworks") == [201]
    # Polled through Azure-AsyncOperation: the operation status endpoint was read.
    assert statuses(box, "GET", "Sandbox.Operations/operations")


def test_subnet_outside_the_address_space_or_overlapping_is_refused(net: AzureClients) -> None:
    with pytest.raises(HttpResponseError) as info:
        net.network.subnets.begin_create_or_update(
            NET_RG, VNET, "snet-out", {"properties": {"addressPrefix": "10.99.0.0/24"}}
        ).result()
    status, code, message = arm_error(info)
    assert (status, code) == (400, "NetcfgSubnetRangeOutsideVnet")
    assert "snet-out" in message and VNET in message

    with pytest.raises(HttpResponseError) as info:
        net.network.subnets.begin_create_or_update(
            NET_RG, VNET, "snet-overlap", {"properties": {"addressPrefix": "10.20.1.128/25"}}
        ).result()
    assert arm_error(info)[:2] == (400, "NetcfgSubnetRangesOverlap")

    bad_vnet = {
        "location": "eastus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.60.0.0/16"]},
            "subnets": [{"name": "x", "properties": {"addressPrefix": "10.61.0.0/24"}}],
        },
    }
    with pytest.raises(HttpResponseError) as info:
        net.network.virtual_networks.begin_create_or_update(NET_RG, "vnet-bad", bad_vnet).result()
    assert arm_error(info)[:2] == (400, "NetcfgSubnetRangeOutsideVnet")
    with pytest.raises(ResourceNotFoundError):
        net.network.virtual_networks.get(NET_RG, "vnet-bad")

    with pytest.raises(HttpResponseError) as info:
        net.network.subnets.begin_create_or_update(
            NET_RG, VNET, "snet-host-bits", {"properties": {"addressPrefix": "10.20.9.1/24"}}
        ).result()
    assert arm_error(info)[:2] == (400, "InvalidCIDRNotation")


# -- private endpoints -----------------------------------------------------------------------------
def test_blob_endpoint_gets_an_ip_a_nic_an_fqdn_and_an_approved_connection(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stfinrepl01")
    pe = create_pe(net, "pe-blob", pe_body(account, "blob"))

    assert pe.provisioning_state == "Succeeded" and pe.subnet.id == PE_SUBNET_ID
    assert [(c.fqdn, c.ip_addresses) for c in pe.custom_dns_configs] == [
        ("stfinrepl01.blob.core.windows.net", ["10.20.1.4"])
    ]
    (conn,) = pe.private_link_service_connections
    assert conn.id.endswith("/providers/Microsoft.Network/privateEndpoints/pe-blob/privateLinkServiceConnections/conn")
    assert conn.private_link_service_id == account and conn.group_ids == ["blob"]
    assert conn.request_message == "plmigrate"
    state = conn.private_link_service_connection_state
    assert (state.status, state.description, state.actions_required) == ("Approved", "Auto-Approved", "None")

    # The target records the same connection, named {endpoint}.{guid}.
    (record,) = connections.for_target(box.world, account)
    assert record["name"].startswith("pe-blob.")
    assert record["properties"]["privateEndpoint"]["id"] == pe.id
    assert record["properties"]["privateLinkServiceConnectionState"]["status"] == "Approved"

    # The NIC is a real, get-able resource in the endpoint's resource group.
    (nic_ref,) = pe.network_interfaces
    nic_name = nic_ref.id.rsplit("/", 1)[1]
    assert nic_name.startswith("pe-blob.nic.")
    nic = net.network.network_interfaces.get(PE_RG, nic_name)
    (config,) = nic.ip_configurations
    assert config.private_ip_address == "10.20.1.4" and config.subnet.id == PE_SUBNET_ID
    assert config.private_link_connection_properties.fqdns == ["stfinrepl01.blob.core.windows.net"]
    assert config.private_link_connection_properties.group_id == "blob"

    # The subnet shows what sits in it.
    subnet = net.network.subnets.get(NET_RG, VNET, "snet-pe")
    assert [e.id for e in subnet.private_endpoints] == [pe.id]

    fetched = net.network.private_endpoints.get(PE_RG, "pe-blob")
    assert fetched.as_dict() == pe.as_dict()


def test_auto_approval_without_the_right_is_403_then_a_manual_connection_waits(box: Sandbox, net: AzureClients) -> None:
    owned_elsewhere = put_storage(box, "stfincache01", may_approve=False)
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-cache", pe_body(owned_elsewhere, "blob"))
    status, code, message = arm_error(info)
    assert (status, code) == (403, "LinkedAuthorizationFailed")
    endpoint_id = f"/subscriptions/{SUB}/resourceGroups/{PE_RG}/providers/Microsoft.Network/privateEndpoints/pe-cache"
    assert message == (
        f"The client '{box.scenario.principal_id}' with object id '{box.scenario.principal_id}' has permission to "
        f"perform action 'Microsoft.Network/privateEndpoints/write' on scope '{endpoint_id}'; however, it does not "
        "have permission to perform action 'PrivateEndpointConnectionsApproval/action' on the linked scope(s) "
        f"'{owned_elsewhere}' or the linked scope(s) are invalid."
    )
    # Refused before any write: no endpoint, no NIC, nothing on the target.
    assert connections.for_target(box.world, owned_elsewhere) == []
    assert box.world.by_type("Microsoft.Network/privateEndpoints") == []
    assert box.world.by_type("Microsoft.Network/networkInterfaces") == []

    pending = create_pe(net, "pe-cache", pe_body(owned_elsewhere, "blob", manual=True))
    assert pending.private_link_service_connections == []
    (manual_conn,) = pending.manual_private_link_service_connections
    assert manual_conn.id.endswith("/manualPrivateLinkServiceConnections/conn")
    state = manual_conn.private_link_service_connection_state
    assert (state.status, state.description) == ("Pending", "Awaiting approval")
    (record,) = connections.for_target(box.world, owned_elsewhere)
    assert record["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"

    # A manual connection waits even where the caller could approve.
    ours = put_storage(box, "stours01")
    manual = create_pe(net, "pe-manual", pe_body(ours, "blob", manual=True))
    assert manual.manual_private_link_service_connections[0].private_link_service_connection_state.status == "Pending"

    # The owner approves on their side; the endpoint shows it.
    approve_as_owner(box, owned_elsewhere)
    approved = net.network.private_endpoints.get(PE_RG, "pe-cache")
    assert approved.manual_private_link_service_connections[0].private_link_service_connection_state.status == (
        "Approved"
    )


def test_changes_azure_refuses_on_an_existing_endpoint(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stfixed01")
    pe = create_pe(net, "pe-fixed", pe_body(account, "blob"))
    before = box.world.get(pe.id)

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-fixed", pe_body(account, "blob") | {"location": "westeurope"})
    status, code, message = arm_error(info)
    assert (status, code) == (409, "InvalidResourceLocation")
    assert message == (
        f"The resource 'pe-fixed' already exists in location 'eastus' in resource group '{PE_RG}'. A resource with "
        "the same name cannot be created in location 'westeurope'. Please select a new resource name."
    )

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-fixed", pe_body(account, "blob", subnet_id=TINY_SUBNET_ID))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "CannotChangeSubnetOnExistingPrivateEndpoint")
    assert PE_SUBNET_ID in message and TINY_SUBNET_ID in message

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-fixed", pe_body(account, "file"))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "CannotChangeGroupIdsOnExistingPrivateEndpoint")
    assert "group IDs blob" in message and "to file" in message

    # Nothing of the refused requests was applied.
    assert box.world.get(pe.id) == before
    assert len(connections.for_target(box.world, account)) == 1


def slow(box: Sandbox, resource_type: str, seconds: float, method: str = "PUT") -> None:
    """Operations of this kind take `seconds` (the scenario's latency settings, set at run time)."""
    box.app.behaviour.set_latencies([LatencySeed(method=method, resource_type=resource_type, seconds=seconds)])


def wait_settled(read: Callable[[], Any], deadline_seconds: float = 10) -> Any:
    deadline = time.monotonic() + deadline_seconds
    while (found := read()).provisioning_state != "Succeeded":
        assert time.monotonic() < deadline, f"still {found.provisioning_state}"
        time.sleep(0.1)
    return found


def test_an_endpoint_shows_updating_until_its_operation_ends_and_refuses_writes_meanwhile(
    box: Sandbox, net: AzureClients
) -> None:
    account = put_storage(box, "stslow01")
    zone = put_zone(box, "privatelink.blob.core.windows.net")
    slow(box, "Microsoft.Network/privateEndpoints", 1.5)
    started = time.monotonic()
    first = net.network.private_endpoints.begin_create_or_update(
        PE_RG, "pe-slow", pe_body(account, "blob"), polling=False
    ).result()
    assert first.provisioning_state == "Updating"  # the first answer: the operation has only begun
    assert net.network.private_endpoints.get(PE_RG, "pe-slow").provisioning_state == "Updating"
    endpoint_id = first.id

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-slow", pe_body(account, "blob"))
    status, code, message = arm_error(info)
    assert (status, code) == (409, "AnotherOperationInProgress")
    assert message.startswith(
        "Another operation on this or dependent resource is in progress. To retrieve status of the operation "
        f"use uri: {box.info.arm_url}/subscriptions/{SUB}/providers/"
    )
    with pytest.raises(HttpResponseError) as info:
        net.network.private_endpoints.begin_delete(PE_RG, "pe-slow").result()
    assert arm_error(info)[:2] == (409, "AnotherOperationInProgress")
    group = {"properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": zone}}]}}
    with pytest.raises(HttpResponseError) as info:
        net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-slow", "default", group).result()
    assert arm_error(info)[:2] == (409, "AnotherOperationInProgress")

    done = wait_settled(lambda: net.network.private_endpoints.get(PE_RG, "pe-slow"))
    assert time.monotonic() - started >= 1.4, "settled before the operation's latency had passed"
    assert done.id == endpoint_id
    slow(box, "none", 0)
    net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-slow", "default", group).result()
    assert create_pe(net, "pe-slow", pe_body(account, "blob")).provisioning_state == "Succeeded"


def test_a_write_referencing_a_subnet_or_zone_still_provisioning_fails(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stref01")
    slow(box, "Microsoft.Network/virtualNetworks/subnets", 1.5)
    net.network.subnets.begin_create_or_update(
        NET_RG, VNET, "snet-new", {"properties": {"addressPrefix": "10.20.9.0/24"}}, polling=False
    )
    new_subnet = f"{VNET_ID}/subnets/snet-new"
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-early", pe_body(account, "blob", subnet_id=new_subnet))
    endpoint_id = f"/subscriptions/{SUB}/resourceGroups/{PE_RG}/providers/Microsoft.Network/privateEndpoints/pe-early"
    assert arm_error(info) == (
        400,
        "ReferencedResourceNotProvisioned",
        f"Cannot proceed with operation because resource {new_subnet} used by resource {endpoint_id} is not in "
        "Succeeded state. Resource is in Updating state and the last operation that updated/is updating the "
        "resource is PutSubnetOperation.",
    )
    assert box.world.get(endpoint_id) is None and connections.for_target(box.world, account) == []
    # The subnet itself is busy: a second write on it waits for the first.
    with pytest.raises(HttpResponseError) as info:
        net.network.subnets.begin_create_or_update(
            NET_RG, VNET, "snet-new", {"properties": {"addressPrefix": "10.20.9.0/24"}}
        ).result()
    assert arm_error(info)[:2] == (409, "AnotherOperationInProgress")

    # A zone group naming a zone still being created.
    slow(box, "Microsoft.Network/privateDnsZones", 1.5)
    pe = create_pe(net, "pe-zoned", pe_body(account, "blob"))
    net.privatedns.private_zones.begin_create_or_update(
        NET_RG, "privatelink.blob.core.windows.net", {"location": "global"}, polling=False
    )
    zone = f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/privateDnsZones/" + (
        "privatelink.blob.core.windows.net"
    )
    group = {"properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": zone}}]}}
    with pytest.raises(HttpResponseError) as info:
        net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-zoned", "default", group).result()
    status, code, message = arm_error(info)
    assert (status, code) == (400, "ReferencedResourceNotProvisioned")
    assert f"resource {zone} used by resource {pe.id}/privateDnsZoneGroups/default" in message
    assert "Resource is in Creating state" in message and "PutPrivateDnsZoneOperation" in message

    wait_settled(lambda: net.network.subnets.get(NET_RG, VNET, "snet-new"))
    wait_settled(lambda: net.privatedns.private_zones.get(NET_RG, "privatelink.blob.core.windows.net"))
    assert create_pe(net, "pe-early", pe_body(account, "blob", subnet_id=new_subnet)).provisioning_state == "Succeeded"
    made = net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-zoned", "default", group).result()
    assert made.private_dns_zone_configs[0].record_sets[0].fqdn == "stref01.privatelink.blob.core.windows.net"


def test_an_endpoint_to_a_storage_account_still_being_created_fails(box: Sandbox, net: AzureClients) -> None:
    slow(box, "Microsoft.Storage/storageAccounts", 1.5)
    body = {"sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "location": "eastus"}
    poller = net.storage.storage_accounts.begin_create(TARGET_RG, "stnew01", body)
    account = f"/subscriptions/{SUB}/resourceGroups/{TARGET_RG}/providers/Microsoft.Storage/storageAccounts/stnew01"
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-new", pe_body(account, "blob"))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "ReferencedResourceNotProvisioned")
    assert f"resource {account} used by resource " in message
    assert "Resource is in Creating state" in message and "PutStorageAccountOperation" in message
    poller.result()
    assert create_pe(net, "pe-new", pe_body(account, "blob")).provisioning_state == "Succeeded"


def test_an_injected_lro_failure_shows_updating_then_failed(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stfail01")
    slow(box, "Microsoft.Network/privateEndpoints", 1.0)
    box.app.behaviour.set_faults(
        [
            FaultSeed(
                method="PUT",
                resource_type="Microsoft.Network/privateEndpoints",
                lro_failure=True,
                code="InternalServerError",
                message="boom",
                sequence=[True],
            )
        ]
    )
    net.network.private_endpoints.begin_create_or_update(PE_RG, "pe-fails", pe_body(account, "blob"), polling=False)
    assert net.network.private_endpoints.get(PE_RG, "pe-fails").provisioning_state == "Updating"
    deadline = time.monotonic() + 10
    while (state := net.network.private_endpoints.get(PE_RG, "pe-fails").provisioning_state) == "Updating":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert state == "Failed"


def test_site_recovery_endpoint_has_six_members_with_their_own_ips(box: Sandbox, net: AzureClients) -> None:
    vault = put_vault(box, "rsv-finance", numeric_id="4781629537102938456")
    pe = create_pe(net, "pe-asr", pe_body(vault, "AzureSiteRecovery"))

    fqdns = [c.fqdn for c in pe.custom_dns_configs]
    assert fqdns == [
        f"4781629537102938456-asr-pod01-{kind}.eus.siterecovery.windowsazure.com"
        for kind in ("rcm1", "prot2", "prot2b", "tel1", "srs1", "id1")
    ]
    ips = [c.ip_addresses[0] for c in pe.custom_dns_configs]
    assert len(set(ips)) == 6
    subnet = ipaddress.ip_network("10.20.1.0/24")
    assert all(ipaddress.ip_address(ip) in subnet and int(ip.rsplit(".", 1)[1]) >= 4 for ip in ips)

    nic = net.network.network_interfaces.get(PE_RG, pe.network_interfaces[0].id.rsplit("/", 1)[1])
    assert sorted(c.private_ip_address for c in nic.ip_configurations) == sorted(ips)
    assert {c.private_link_connection_properties.required_member_name for c in nic.ip_configurations} == {
        f"SiteRecovery-{kind}" for kind in ("rcm1", "prot2", "prot2b", "tel1", "srs1", "id1")
    }

    # The vault's connection name carries the numeric vault ID as its second dot-separated part.
    (record,) = connections.for_target(box.world, vault)
    assert record["name"].split(".")[:3] == ["pe-asr", "4781629537102938456", "siterecovery"]
    assert record["properties"]["privateLinkServiceConnectionState"]["actionsRequired"] == "None"
    assert pe.private_link_service_connections[0].private_link_service_connection_state.status == "Approved"


def test_vault_without_numeric_id_gets_a_stable_one(box: Sandbox, net: AzureClients) -> None:
    vault = put_vault(box, "rsv-bare", numeric_id=None)
    pe = create_pe(net, "pe-asr", pe_body(vault, "AzureSiteRecovery"))
    numeric = box.world.meta_of(vault)["numeric_id"]
    assert numeric.isdigit()
    assert pe.custom_dns_configs[0].fqdn == f"{numeric}-asr-pod01-rcm1.eus.siterecovery.windowsazure.com"


def test_vault_without_identity_is_refused(box: Sandbox, net: AzureClients) -> None:
    vault = put_vault(box, "rsv-noid", identity=False)
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-asr", pe_body(vault, "AzureSiteRecovery"))
    status, _, message = arm_error(info)
    assert status == 400 and "system-assigned managed identity" in message and "rsv-noid" in message
    assert connections.for_target(box.world, vault) == []


def test_ips_are_distinct_inside_the_subnet_and_freed_on_delete(box: Sandbox, net: AzureClients) -> None:
    a, b, c = (put_storage(box, name) for name in ("sta", "stb", "stc"))
    first = create_pe(net, "pe-a", pe_body(a, "blob", subnet_id=TINY_SUBNET_ID))
    second = create_pe(net, "pe-b", pe_body(b, "blob", subnet_id=TINY_SUBNET_ID))
    third = create_pe(net, "pe-c", pe_body(c, "blob", subnet_id=TINY_SUBNET_ID))
    ips = [p.custom_dns_configs[0].ip_addresses[0] for p in (first, second, third)]
    assert ips == ["10.20.2.4", "10.20.2.5", "10.20.2.6"]  # .0-.3 reserved, .7 is the broadcast

    d = put_storage(box, "std")
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-d", pe_body(d, "blob", subnet_id=TINY_SUBNET_ID))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "SubnetIsFull") and "snet-tiny" in message
    assert connections.for_target(box.world, d) == []

    net.network.private_endpoints.begin_delete(PE_RG, "pe-b").result()
    fourth = create_pe(net, "pe-d", pe_body(d, "blob", subnet_id=TINY_SUBNET_ID))
    assert fourth.custom_dns_configs[0].ip_addresses == ["10.20.2.5"]


def test_static_ip_configuration_is_honoured(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "ststatic")
    static = [
        {
            "name": "blob-static",
            "properties": {"groupId": "blob", "memberName": "blob", "privateIPAddress": "10.20.1.77"},
        }
    ]
    pe = create_pe(net, "pe-static", pe_body(account, "blob", ipConfigurations=static))
    assert pe.custom_dns_configs[0].ip_addresses == ["10.20.1.77"]
    assert pe.ip_configurations[0].name == "blob-static"

    other = put_storage(box, "stclash")
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-clash", pe_body(other, "blob", ipConfigurations=static))
    assert arm_error(info)[:2] == (400, "PrivateIPAddressInUse")


def test_re_put_is_an_update_keeping_ips_nic_and_connection_state(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stkeep", may_approve=False)
    vault = put_vault(box, "rsv-keep")
    first = create_pe(net, "pe-blob", pe_body(account, "blob", manual=True))
    asr = create_pe(net, "pe-asr", pe_body(vault, "AzureSiteRecovery"))
    approve_as_owner(box, account)

    again = create_pe(net, "pe-blob", pe_body(account, "blob", manual=True) | {"tags": {"wave": "1"}})
    asr_again = create_pe(net, "pe-asr", pe_body(vault, "AzureSiteRecovery"))

    assert [c.as_dict() for c in again.custom_dns_configs] == [c.as_dict() for c in first.custom_dns_configs]
    assert [c.as_dict() for c in asr_again.custom_dns_configs] == [c.as_dict() for c in asr.custom_dns_configs]
    assert again.network_interfaces[0].id == first.network_interfaces[0].id
    assert again.tags == {"wave": "1"}
    # The owner's approval survives the update, and no second connection appears on the target.
    assert again.manual_private_link_service_connections[0].private_link_service_connection_state.status == ("Approved")
    assert len(connections.for_target(box.world, account)) == 1
    assert len(connections.for_target(box.world, vault)) == 1
    assert len(box.world.by_type("Microsoft.Network/networkInterfaces")) == 2
    assert statuses(box, "PUT", "Microsoft.Network/privateEndpoints") == [200, 200, 201, 201]


def test_list_by_resource_group_and_delete(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stlist")
    other = put_storage(box, "stlist2")
    pe = create_pe(net, "pe-one", pe_body(account, "blob"))
    create_pe(net, "pe-elsewhere", pe_body(other, "blob"), rg="rg-other")

    assert [p.name for p in net.network.private_endpoints.list(PE_RG)] == ["pe-one"]
    assert [p.name for p in net.network.private_endpoints.list("rg-other")] == ["pe-elsewhere"]

    nic_name = pe.network_interfaces[0].id.rsplit("/", 1)[1]
    net.network.private_endpoints.begin_delete(PE_RG, "pe-one").result()
    with pytest.raises(ResourceNotFoundError):
        net.network.private_endpoints.get(PE_RG, "pe-one")
    with pytest.raises(ResourceNotFoundError):
        net.network.network_interfaces.get(PE_RG, nic_name)
    assert connections.for_target(box.world, account) == []
    remaining = net.network.subnets.get(NET_RG, VNET, "snet-pe").private_endpoints
    assert [e.id.rsplit("/", 1)[1] for e in remaining] == ["pe-elsewhere"]
    # Deleting what is gone succeeds.
    net.network.private_endpoints.begin_delete(PE_RG, "pe-one").result()
    assert statuses(box, "DELETE", "Microsoft.Network/privateEndpoints") == [202, 204]


def test_endpoint_negative_paths(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stneg")
    vault = put_vault(box, "rsv-neg")

    missing_subnet = f"{VNET_ID}/subnets/snet-nope"
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-x", pe_body(account, "blob", subnet_id=missing_subnet))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "InvalidResourceReference") and missing_subnet in message

    missing_target = account.replace("stneg", "stghost")
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-x", pe_body(missing_target, "blob"))
    status, code, message = arm_error(info)
    assert (status, code) == (404, "ResourceNotFound") and missing_target in message

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-x", pe_body(account, "AzureSiteRecovery"))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "InvalidValuesForRequestParameters") and "GroupId: AzureSiteRecovery" in message

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-x", pe_body(vault, "blob"))
    status, code, message = arm_error(info)
    assert (status, code) == (400, "InvalidValuesForRequestParameters") and "AzureSiteRecovery" in message

    two_groups = pe_body(account, "blob")
    two_groups["properties"]["privateLinkServiceConnections"][0]["properties"]["groupIds"] = ["blob", "file"]
    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-x", two_groups)
    assert arm_error(info)[:2] == (400, "OnlyOneGroupIdPermitted")

    # Nothing was half-made by the refused calls.
    assert list(net.network.private_endpoints.list(PE_RG)) == []
    assert box.world.by_type("Microsoft.Network/networkInterfaces") == []
    assert connections.for_target(box.world, account) == connections.for_target(box.world, vault) == []


# -- private DNS zone groups -----------------------------------------------------------------------
def test_zone_group_writes_and_removes_a_records(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stzone")
    vault = put_vault(box, "rsv-zone", numeric_id="123")
    blob_zone = put_zone(box, "privatelink.blob.core.windows.net")
    asr_zone = put_zone(box, "privatelink.siterecovery.windowsazure.com")
    create_pe(net, "pe-blob", pe_body(account, "blob"))
    asr = create_pe(net, "pe-asr", pe_body(vault, "AzureSiteRecovery"))

    group_body = {
        "properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": blob_zone}}]}
    }
    group = net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-blob", "default", group_body).result()
    (config,) = group.private_dns_zone_configs
    (record_set,) = config.record_sets
    assert (record_set.record_type, record_set.record_set_name, record_set.fqdn) == (
        "A",
        "stzone",
        "stzone.privatelink.blob.core.windows.net",
    )
    assert record_set.ip_addresses == ["10.20.1.4"] and record_set.provisioning_state == "Succeeded"
    stored = box.world.get(privatedns.a_record_id(blob_zone, "stzone"))
    assert stored is not None and stored["properties"]["aRecords"] == [{"ipv4Address": "10.20.1.4"}]

    asr_group = {
        "properties": {"privateDnsZoneConfigs": [{"name": "asr", "properties": {"privateDnsZoneId": asr_zone}}]}
    }
    made = net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-asr", "default", asr_group).result()
    names = [r.record_set_name for r in made.private_dns_zone_configs[0].record_sets]
    assert names == [f"123-asr-pod01-{k}.eus" for k in ("rcm1", "prot2", "prot2b", "tel1", "srs1", "id1")]
    srs1 = box.world.get(privatedns.a_record_id(asr_zone, "123-asr-pod01-srs1.eus"))
    assert srs1 is not None
    assert srs1["properties"]["aRecords"][0]["ipv4Address"] == asr.custom_dns_configs[4].ip_addresses[0]

    fetched = net.network.private_dns_zone_groups.get(PE_RG, "pe-blob", "default")
    assert fetched.as_dict() == group.as_dict()
    assert [g.name for g in net.network.private_dns_zone_groups.list("pe-blob", PE_RG)] == ["default"]

    # Deleting the group removes its records; deleting the endpoint removes its group's records.
    net.network.private_dns_zone_groups.begin_delete(PE_RG, "pe-blob", "default").result()
    assert box.world.get(privatedns.a_record_id(blob_zone, "stzone")) is None
    with pytest.raises(ResourceNotFoundError):
        net.network.private_dns_zone_groups.get(PE_RG, "pe-blob", "default")
    net.network.private_dns_zone_groups.begin_delete(PE_RG, "pe-blob", "default").result()
    net.network.private_endpoints.begin_delete(PE_RG, "pe-asr").result()
    assert box.world.by_type("Microsoft.Network/privateDnsZones/A") == []


def test_zone_group_negative_paths(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stzneg")
    create_pe(net, "pe-blob", pe_body(account, "blob"))
    missing_zone = f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/privateDnsZones/nope.net"
    body = {"properties": {"privateDnsZoneConfigs": [{"properties": {"privateDnsZoneId": missing_zone}}]}}
    with pytest.raises(HttpResponseError) as info:
        net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-blob", "default", body).result()
    status, code, message = arm_error(info)
    assert (status, code) == (404, "ResourceNotFound") and missing_zone in message

    zones = [put_zone(box, f"privatelink.z{i}.example") for i in range(6)]
    too_many = {"properties": {"privateDnsZoneConfigs": [{"properties": {"privateDnsZoneId": z}} for z in zones]}}
    with pytest.raises(HttpResponseError) as info:
        net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-blob", "default", too_many).result()
    status, code, message = arm_error(info)
    assert status == 400 and "at most 5" in message

    with pytest.raises(ResourceNotFoundError):
        net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-ghost", "default", body).result()


# -- contract: shapes of the official examples -----------------------------------------------------
def missing_keys(example: Any, actual: Any, path: str = "$") -> list[str]:
    """Paths the example has that the actual response lacks (dict keys; first list element)."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [path]
        out = []
        for name, value in example.items():
            if name not in actual:
                out.append(f"{path}.{name}")
            else:
                out.extend(missing_keys(value, actual[name], f"{path}.{name}"))
        return out
    if isinstance(example, list) and example:
        if not isinstance(actual, list) or not actual:
            return [path + "[0]"]
        return missing_keys(example[0], actual[0], path + "[0]")
    return []


def test_create_and_get_match_the_official_example_shapes(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stshape")
    zone = put_zone(box, "privatelink.blob.core.windows.net")
    create_example = json.loads((EXAMPLES / "PrivateEndpointCreate.json").read_text())
    get_example = json.loads((EXAMPLES / "PrivateEndpointGet.json").read_text())
    request = create_example["parameters"]["parameters"]
    # The example's own request, pointed at things that exist in this sandbox.
    request["location"] = "eastus"
    request["properties"]["subnet"]["id"] = PE_SUBNET_ID
    request["properties"]["privateLinkServiceConnections"][0]["properties"]["privateLinkServiceId"] = account
    request["properties"]["privateLinkServiceConnections"][0]["properties"]["groupIds"] = ["blob"]
    request["properties"]["ipConfigurations"][0]["properties"].update(
        {"groupId": "blob", "memberName": "blob", "privateIPAddress": "10.20.1.6"}
    )

    def raw(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
        return pipeline_response.http_response.status_code, pipeline_response.http_response.json()

    status, created = net.network.private_endpoints.begin_create_or_update(
        PE_RG, "testPe", request, polling=False, cls=raw
    ).result()
    assert status == 201
    assert missing_keys(create_example["responses"]["201"]["body"], created) == []
    conn = created["properties"]["privateLinkServiceConnections"][0]["properties"]
    assert conn["privateLinkServiceConnectionState"] == {
        "status": "Approved",
        "description": "Auto-Approved",
        "actionsRequired": "None",
    }
    assert created["properties"]["customNetworkInterfaceName"] == "testPeNic"
    assert created["properties"]["networkInterfaces"][0]["id"].endswith("/networkInterfaces/testPeNic")
    assert created["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.20.1.6"

    status, fetched = net.network.private_endpoints.get(PE_RG, "testPe", cls=raw)
    assert status == 200 and missing_keys(get_example["responses"]["200"]["body"], fetched) == []

    zg_example = json.loads((EXAMPLES / "PrivateEndpointDnsZoneGroupCreate.json").read_text())
    zg_request = zg_example["parameters"]["parameters"]
    zg_request["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"] = zone
    status, group = net.network.private_dns_zone_groups.begin_create_or_update(
        PE_RG, "testPe", "testPdnsgroup", zg_request, polling=False, cls=raw
    ).result()
    assert status == 201 and missing_keys(zg_example["responses"]["201"]["body"], group) == []

    nic_example = json.loads((EXAMPLES / "NetworkInterfaceGet.json").read_text())
    status, nic = net.network.network_interfaces.get(PE_RG, "testPeNic", cls=raw)
    nic_shape = nic_example["responses"]["200"]["body"]
    # A private endpoint's NIC has no VM, public IP, NSG or DSCP configuration.
    optional = {"virtualMachine", "networkSecurityGroup", "dscpConfiguration", "primary"}
    nic_shape["properties"] = {k: v for k, v in nic_shape["properties"].items() if k not in optional}
    nic_shape["properties"]["ipConfigurations"][0]["properties"].pop("publicIPAddress")
    assert status == 200 and missing_keys(nic_shape, nic) == []

    for name in ("VirtualNetworkGet.json", "SubnetGet.json"):
        example = json.loads((EXAMPLES / name).read_text())["responses"]["200"]["body"]
        getter = (
            net.network.virtual_networks.get(NET_RG, VNET, cls=raw)
            if name.startswith("Virtual")
            else net.network.subnets.get(NET_RG, VNET, "snet-pe", cls=raw)
        )
        if name.startswith("Virtual"):
            example["properties"].pop("defaultPublicNatGateway")
        assert missing_keys(example, getter[1]) == [], name


def test_an_endpoint_cannot_be_retargeted_by_put(box: Sandbox, net: AzureClients) -> None:
    # Azure: CannotChangePrivateLinkConnectionOnPrivateEndpoint (docs/sandbox.md); nothing changes.
    old, new = put_storage(box, "stold"), put_storage(box, "stnew")
    zone = put_zone(box, "privatelink.blob.core.windows.net")
    create_pe(net, "pe-blob", pe_body(old, "blob"))
    group_body = {"properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": zone}}]}}
    net.network.private_dns_zone_groups.begin_create_or_update(PE_RG, "pe-blob", "default", group_body).result()

    with pytest.raises(HttpResponseError) as info:
        create_pe(net, "pe-blob", pe_body(new, "blob"))
    assert arm_error(info)[:2] == (400, "CannotChangePrivateLinkConnectionOnPrivateEndpoint")
    assert len(connections.for_target(box.world, old)) == 1 and connections.for_target(box.world, new) == []
    assert box.world.get(privatedns.a_record_id(zone, "stold")) is not None
    assert box.world.get(privatedns.a_record_id(zone, "stnew")) is None


def test_a_subnet_in_use_cannot_be_dropped_or_readdressed(box: Sandbox, net: AzureClients) -> None:
    account = put_storage(box, "stinuse")
    create_pe(net, "pe-blob", pe_body(account, "blob"))
    vnet = {
        "location": "eastus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
            "subnets": [{"name": "snet-tiny", "properties": {"addressPrefix": "10.20.2.0/29"}}],
        },
    }
    # A VNet PUT replaces its subnet list, as in ARM: leaving out a subnet in use is refused.
    with pytest.raises(HttpResponseError) as info:
        net.network.virtual_networks.begin_create_or_update(NET_RG, VNET, vnet).result()
    status, code, message = arm_error(info)
    assert (status, code) == (400, "InUseSubnetCannotBeDeleted") and "snet-pe" in message
    with pytest.raises(HttpResponseError) as info:
        net.network.subnets.begin_create_or_update(
            NET_RG, VNET, "snet-pe", {"properties": {"addressPrefix": "10.20.4.0/24"}}
        ).result()
    assert arm_error(info)[:2] == (400, "InUseSubnetCannotBeUpdated")
    assert net.network.subnets.get(NET_RG, VNET, "snet-pe").address_prefix == "10.20.1.0/24"
