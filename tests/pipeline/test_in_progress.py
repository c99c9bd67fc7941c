"""A resource found mid-operation (a crashed run's PUT still running on Azure) is waited for, not
PUT over: the task reads until provisioningState settles, then decides.

The operations here really run: the sandbox's latency settings make a PUT take seconds, during
which the resource says Updating/Creating and ARM refuses writes over it (409
AnotherOperationInProgress). The "crashed run" is that PUT sent without waiting for its end."""

from __future__ import annotations

import time
from typing import Any

from prefect.logging import disable_run_logger

from plmigrate.azure import Target, clients
from plmigrate.naming import ZONE_GROUP, vnet_link_name
from plmigrate.sandbox import Sandbox
from plmigrate.sandbox.scenario import LatencySeed
from tasks.network import ensure_private_dns_zone, ensure_private_endpoint, ensure_zone_group
from tests.pipeline.conftest import all_approvable, default_scenario

SUB = "00000000-0000-0000-0000-00000000a11e"
RG = "rg-network-hub"
HUB = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet-hub-eastus"
SUBNET = f"{HUB}/subnets/snet-private-endpoints"
ZONE = "privatelink.blob.core.windows.net"
ZONE_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/privateDnsZones/{ZONE}"
OPERATION_SECONDS = 2.0


def _slow(box: Sandbox, resource_type: str) -> None:
    box.app.behaviour.set_latencies([LatencySeed(method="PUT", resource_type=resource_type, seconds=OPERATION_SECONDS)])


def _endpoint_args(box: Sandbox) -> dict[str, Any]:
    account = next(
        r["id"] for r in box.world.by_type("Microsoft.Storage/storageAccounts") if r["name"] == "stfinrepl01"
    )
    return {
        "resource_group": RG,
        "name": "pe-stfinrepl01-blob",
        "location": "eastus",
        "subnet_id": SUBNET,
        "target_id": account,
        "group_id": "blob",
        "tags": {},
    }


def _writes(box: Sandbox) -> int:
    return box.world.call_report()["writes"]


def test_an_endpoint_still_updating_is_waited_for_then_left_alone(world) -> None:
    box = world(all_approvable(default_scenario()))
    target = Target.sandbox(box.info)
    args = _endpoint_args(box)
    _slow(box, "Microsoft.Network/privateEndpoints")
    body = {
        "location": "eastus",
        "properties": {
            "subnet": {"id": SUBNET},
            "privateLinkServiceConnections": [
                {
                    "name": args["name"],
                    "properties": {"privateLinkServiceId": args["target_id"], "groupIds": ["blob"]},
                }
            ],
        },
    }
    # The crashed run: its PUT was accepted, and the operation runs on without it.
    clients(target).network.private_endpoints.begin_create_or_update(RG, args["name"], body, polling=False)
    assert clients(target).network.private_endpoints.get(RG, args["name"]).provisioning_state == "Updating"
    writes = _writes(box)
    started = time.monotonic()
    with disable_run_logger():
        facts = ensure_private_endpoint.fn(target, **args)
    assert time.monotonic() - started >= OPERATION_SECONDS - 0.1, "the task did not wait for the running operation"
    assert facts.written is False and facts.connection.status == "Approved"
    assert _writes(box) == writes


def test_a_zone_group_and_a_vnet_link_still_being_written_are_waited_for(world) -> None:
    box = world(all_approvable(default_scenario()))
    target = Target.sandbox(box.info)
    az = clients(target)
    with disable_run_logger():
        endpoint = ensure_private_endpoint.fn(target, **_endpoint_args(box))
        ensure_private_dns_zone.fn(target, resource_group=RG, zone=ZONE, vnet_ids=[], tags={})

        # A crashed run's zone group PUT, still running: a PUT over it would be a 409.
        _slow(box, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")
        group = {
            "properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": ZONE_ID}}]}
        }
        az.network.private_dns_zone_groups.begin_create_or_update(RG, endpoint.name, ZONE_GROUP, group, polling=False)
        assert az.network.private_dns_zone_groups.get(RG, endpoint.name, ZONE_GROUP).provisioning_state == "Updating"
        writes = _writes(box)
        started = time.monotonic()
        assert ensure_zone_group.fn(target, endpoint, [ZONE_ID]) is False
        assert time.monotonic() - started >= OPERATION_SECONDS - 0.1
        assert _writes(box) == writes

        # A crashed run's VNet link PUT, still running.
        _slow(box, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
        link = {"location": "global", "properties": {"virtualNetwork": {"id": HUB}, "registrationEnabled": False}}
        az.privatedns.virtual_network_links.begin_create_or_update(
            RG, ZONE, vnet_link_name("vnet-hub-eastus"), link, polling=False
        )
        assert az.privatedns.virtual_network_links.get(
            RG, ZONE, vnet_link_name("vnet-hub-eastus")
        ).provisioning_state == ("Creating")
        writes = _writes(box)
        started = time.monotonic()
        ensure_private_dns_zone.fn(target, resource_group=RG, zone=ZONE, vnet_ids=[HUB], tags={})
        assert time.monotonic() - started >= OPERATION_SECONDS - 0.1
        assert _writes(box) == writes
    (made,) = az.privatedns.virtual_network_links.list(RG, ZONE)
    assert made.provisioning_state == "Succeeded" and made.virtual_network.id == HUB
