"""Microsoft.Network/privateDnsZones in the sandbox, driven by the real azure-mgmt-privatedns client:
zones (202 + Azure-AsyncOperation), A record sets, virtual network links, and the shared A-record
helpers the network provider's zone groups use."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox
from plmigrate.sandbox.providers import privatedns
from plmigrate.sandbox.scenario import LatencySeed

EXAMPLES = Path(__file__).parents[1] / "contract" / "azure-examples" / "privatedns"
RG = "rg-dns"
ZONE = "privatelink.blob.core.windows.net"


def vnet_id(sandbox: Sandbox, name: str = "vnet-hub") -> str:
    group = f"/subscriptions/{sandbox.info.subscription_id}/resourceGroups/{RG}"
    return f"{group}/providers/Microsoft.Network/virtualNetworks/{name}"


def put_vnet(sandbox: Sandbox, name: str = "vnet-hub") -> str:
    """A minimal VNet straight into the world (the network provider makes real ones)."""
    rid = vnet_id(sandbox, name)
    sandbox.world.put(
        {
            "id": rid,
            "name": name,
            "type": "Microsoft.Network/virtualNetworks",
            "location": "eastus",
            "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]}, "provisioningState": "Succeeded"},
        }
    )
    return rid


@pytest.fixture
def box(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox({"resource_groups": [{"name": RG, "location": "eastus"}]})


@pytest.fixture
def az(box: Sandbox) -> AzureClients:
    return clients(Target.sandbox(box.info))


def calls(box: Sandbox, method: str, resource_type: str) -> dict[int, int]:
    return {
        r["status"]: r["count"]
        for r in box.world.call_report()["calls"]
        if r["method"] == method and r["resource_type"].lower() == resource_type.lower()
    }


def make_zone(az: AzureClients, name: str = ZONE, **extra: Any) -> Any:
    return az.privatedns.private_zones.begin_create_or_update(RG, name, {"location": "global", **extra}).result()


def status_of(pipeline_response: Any, deserialized: Any, headers: Any) -> tuple[int, Any]:
    return pipeline_response.http_response.status_code, deserialized


# -- zones ---------------------------------------------------------------------------------------
def test_zone_create_is_a_202_lro_polled_to_the_final_get(box: Sandbox, az: AzureClients) -> None:
    zone = make_zone(az, tags={"bu": "finance"})
    assert zone.name == ZONE and zone.location == "global" and zone.tags == {"bu": "finance"}
    assert zone.type == "Microsoft.Network/privateDnsZones"
    assert zone.provisioning_state == "Succeeded"
    # A new zone holds its SOA record set, as in Azure.
    assert zone.number_of_record_sets == 1 and zone.number_of_virtual_network_links == 0
    assert zone.max_number_of_record_sets == 25000 and zone.etag
    assert calls(box, "PUT", "Microsoft.Network/privateDnsZones") == {202: 1}
    # lro_polls=1: one InProgress, then Succeeded, then the SDK's final GET.
    assert calls(box, "GET", "Sandbox.Operations/operations") == {200: 2}
    assert calls(box, "GET", "Microsoft.Network/privateDnsZones") == {200: 1}


def test_zone_create_again_is_an_update(az: AzureClients) -> None:
    first = make_zone(az, tags={"a": "1"})
    second = make_zone(az, tags={"a": "2"})
    assert second.id == first.id and second.tags == {"a": "2"} and second.etag != first.etag
    assert second.number_of_record_sets == 1  # the SOA is not made twice
    assert [z.name for z in az.privatedns.private_zones.list_by_resource_group(RG)] == [ZONE]


def test_zone_location_must_be_global(az: AzureClients) -> None:
    with pytest.raises(HttpResponseError) as info:
        az.privatedns.private_zones.begin_create_or_update(RG, ZONE, {"location": "eastus"})
    assert info.value.status_code == 400
    assert info.value.error.code == "LocationNotAvailableForResourceType"
    assert "'global'" in info.value.error.message


def test_zone_in_a_missing_group_and_missing_zone(az: AzureClients) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        az.privatedns.private_zones.begin_create_or_update("rg-nope", ZONE, {"location": "global"})
    assert info.value.error.code == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        az.privatedns.private_zones.get(RG, "privatelink.nothing.example")
    assert info.value.error.code == "ResourceNotFound"
    assert "privateDnsZones/privatelink.nothing.example" in info.value.error.message
    with pytest.raises(ResourceNotFoundError) as info:
        list(az.privatedns.private_zones.list_by_resource_group("rg-nope"))
    assert info.value.error.code == "ResourceGroupNotFound"


def test_zone_get_and_list(az: AzureClients) -> None:
    make_zone(az)
    make_zone(az, "privatelink.siterecovery.windowsazure.com")
    assert az.privatedns.private_zones.get(RG, ZONE.upper()).name == ZONE  # case-insensitive
    names = sorted(z.name for z in az.privatedns.private_zones.list())
    assert names == [ZONE, "privatelink.siterecovery.windowsazure.com"]
    assert len(list(az.privatedns.private_zones.list_by_resource_group(RG))) == 2


def test_zone_lro_failure_surfaces_and_marks_the_zone_failed(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(
        {
            "resource_groups": [{"name": RG, "location": "eastus"}],
            "faults": [
                {
                    "method": "PUT",
                    "resource_type": "Microsoft.Network/privateDnsZones",
                    "lro_failure": True,
                    "code": "InternalServerError",
                    "message": "zone provisioning failed",
                    "sequence": [True],
                }
            ],
        }
    )
    az = clients(Target.sandbox(box.info))
    poller = az.privatedns.private_zones.begin_create_or_update(RG, ZONE, {"location": "global"})
    with pytest.raises(HttpResponseError, match="zone provisioning failed"):
        poller.result()
    assert az.privatedns.private_zones.get(RG, ZONE).provisioning_state == "Failed"
    # Running it again repairs it, as a re-run of a task would.
    assert make_zone(az).provisioning_state == "Succeeded"


def test_zone_delete_is_refused_while_links_exist_then_succeeds(box: Sandbox, az: AzureClients) -> None:
    make_zone(az)
    vnet = put_vnet(box)
    az.privatedns.virtual_network_links.begin_create_or_update(
        RG, ZONE, "link-hub", {"location": "global", "properties": {"virtualNetwork": {"id": vnet}}}
    ).result()
    with pytest.raises(HttpResponseError) as info:
        az.privatedns.private_zones.begin_delete(RG, ZONE)
    assert info.value.status_code == 409 and info.value.error.code == "CannotDeleteResource"
    assert "virtualNetworkLinks/link-hub" in info.value.error.message
    az.privatedns.virtual_network_links.begin_delete(RG, ZONE, "link-hub").result()
    az.privatedns.private_zones.begin_delete(RG, ZONE).result()
    assert calls(box, "DELETE", "Microsoft.Network/privateDnsZones") == {409: 1, 202: 1}
    with pytest.raises(ResourceNotFoundError):
        az.privatedns.private_zones.get(RG, ZONE)
    # Its record sets went with it; deleting what is gone succeeds.
    assert (
        box.world.get(f"{vnet.split('/providers/')[0]}/providers/Microsoft.Network/privateDnsZones/{ZONE}/SOA/@")
        is None
    )
    az.privatedns.private_zones.begin_delete(RG, ZONE).result()
    assert calls(box, "DELETE", "Microsoft.Network/privateDnsZones")[204] == 1


# -- record sets ---------------------------------------------------------------------------------
def test_a_record_sets_create_get_list_delete(box: Sandbox, az: AzureClients) -> None:
    make_zone(az)
    rs = az.privatedns.record_sets
    status, created = rs.create_or_update(
        RG,
        ZONE,
        "A",
        "stFinRepl01",
        {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.20.1.4"}]}},
        cls=status_of,
    )
    assert status == 201
    assert created.name == "stfinrepl01"  # Azure returns record names lower-case
    assert created.type == "Microsoft.Network/privateDnsZones/A"
    assert created.fqdn == f"stfinrepl01.{ZONE}." and created.ttl == 10 and created.is_auto_registered is False
    assert [a.ipv4_address for a in created.a_records] == ["10.20.1.4"]
    status, updated = rs.create_or_update(
        RG,
        ZONE,
        "A",
        "stfinrepl01",
        {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.20.1.5"}]}},
        cls=status_of,
    )
    assert status == 200 and updated.etag != created.etag
    assert [a.ipv4_address for a in rs.get(RG, ZONE, "A", "STFINREPL01").a_records] == ["10.20.1.5"]
    apex = rs.create_or_update(
        RG, ZONE, "A", "@", {"properties": {"ttl": 60, "aRecords": [{"ipv4Address": "10.0.0.1"}]}}
    )
    assert apex.name == "@" and apex.fqdn == f"{ZONE}."
    assert sorted(r.name for r in rs.list_by_type(RG, ZONE, "A")) == ["@", "stfinrepl01"]
    everything = {(r.type.rsplit("/", 1)[1], r.name) for r in rs.list(RG, ZONE)}
    assert everything == {("SOA", "@"), ("A", "@"), ("A", "stfinrepl01")}
    assert az.privatedns.private_zones.get(RG, ZONE).number_of_record_sets == 3
    rs.delete(RG, ZONE, "A", "stfinrepl01")
    with pytest.raises(ResourceNotFoundError) as info:
        rs.get(RG, ZONE, "A", "stfinrepl01")
    assert info.value.error.code == "ResourceNotFound"
    rs.delete(RG, ZONE, "A", "stfinrepl01")  # gone already: still success
    assert calls(box, "DELETE", "Microsoft.Network/privateDnsZones/A") == {200: 1, 204: 1}


def test_record_set_etag_preconditions(az: AzureClients) -> None:
    make_zone(az)
    rs = az.privatedns.record_sets
    body = {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.20.1.4"}]}}
    created = rs.create_or_update(RG, ZONE, "A", "acct", body, match_condition=MatchConditions.IfMissing)
    with pytest.raises(ResourceExistsError) as info:
        rs.create_or_update(RG, ZONE, "A", "acct", body, match_condition=MatchConditions.IfMissing)
    assert info.value.status_code == 412 and info.value.error.code == "PreconditionFailed"
    with pytest.raises(ResourceModifiedError):
        rs.create_or_update(RG, ZONE, "A", "acct", body, etag="stale", match_condition=MatchConditions.IfNotModified)
    ok = rs.create_or_update(
        RG, ZONE, "A", "acct", body, etag=created.etag, match_condition=MatchConditions.IfNotModified
    )
    assert ok.etag != created.etag
    with pytest.raises(ResourceModifiedError):
        rs.delete(RG, ZONE, "A", "acct", etag=created.etag, match_condition=MatchConditions.IfNotModified)
    rs.delete(RG, ZONE, "A", "acct", etag=ok.etag, match_condition=MatchConditions.IfNotModified)


def test_record_sets_negative_paths(az: AzureClients) -> None:
    rs = az.privatedns.record_sets
    body = {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.20.1.4"}]}}
    with pytest.raises(ResourceNotFoundError) as info:
        rs.create_or_update(RG, ZONE, "A", "acct", body)
    assert info.value.error.code == "ParentResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        list(rs.list_by_type(RG, ZONE, "A"))
    assert info.value.error.code == "ParentResourceNotFound"
    make_zone(az)
    with pytest.raises(HttpResponseError) as info:
        rs.create_or_update(RG, ZONE, "A", "acct", {"properties": {"aRecords": [{"ipv4Address": "10.20.1.999"}]}})
    assert info.value.status_code == 400 and info.value.error.code == "BadRequest"
    with pytest.raises(HttpResponseError) as info:
        rs.delete(RG, ZONE, "SOA", "@")
    assert info.value.status_code == 400 and "SOA" in info.value.error.message


def test_record_set_lists_page_at_top_and_follow_next_links(box: Sandbox, az: AzureClients) -> None:
    make_zone(az)
    rs = az.privatedns.record_sets
    for i in range(7):
        rs.create_or_update(
            RG, ZONE, "A", f"acct{i}", {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": f"10.0.0.{i}"}]}}
        )
    pages = [list(page) for page in rs.list_by_type(RG, ZONE, "A", top=3).by_page()]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(r.name for p in pages for r in p) == [f"acct{i}" for i in range(7)]
    assert [len(list(p)) for p in rs.list(RG, ZONE, top=5).by_page()] == [5, 3]  # SOA + 7 A
    assert len(list(rs.list(RG, ZONE))) == 8
    # Every next link kept the $top of the first call.
    assert calls(box, "GET", "Microsoft.Network/privateDnsZones/A") == {200: 3}
    with pytest.raises(HttpResponseError) as info:
        list(rs.list(RG, ZONE, top=0))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidQueryParameterValue"
    assert "$top" in info.value.error.message


# -- virtual network links -----------------------------------------------------------------------
def test_virtual_network_links(box: Sandbox, az: AzureClients) -> None:
    make_zone(az)
    links = az.privatedns.virtual_network_links
    missing = vnet_id(box, "vnet-missing")
    with pytest.raises(HttpResponseError) as info:
        links.begin_create_or_update(
            RG, ZONE, "link-x", {"location": "global", "properties": {"virtualNetwork": {"id": missing}}}
        )
    assert info.value.status_code == 400 and info.value.error.code == "BadRequest"
    assert info.value.error.message == f"Virtual network resource not found for '{missing}'"
    vnet = put_vnet(box)
    link = links.begin_create_or_update(
        RG,
        ZONE,
        "link-hub",
        {"location": "Global", "tags": {"k": "v"}, "properties": {"virtualNetwork": {"id": vnet}}},
    ).result()
    assert link.type == "Microsoft.Network/privateDnsZones/virtualNetworkLinks" and link.location == "global"
    assert link.virtual_network.id == vnet and link.registration_enabled is False
    assert link.virtual_network_link_state == "Completed" and link.provisioning_state == "Succeeded"
    assert calls(box, "PUT", "Microsoft.Network/privateDnsZones/virtualNetworkLinks") == {400: 1, 202: 1}
    again = links.begin_create_or_update(
        RG,
        ZONE,
        "link-hub",
        {"location": "global", "properties": {"virtualNetwork": {"id": vnet}, "registrationEnabled": True}},
    ).result()
    assert again.registration_enabled is True and again.etag != link.etag
    zone = az.privatedns.private_zones.get(RG, ZONE)
    assert zone.number_of_virtual_network_links == 1 and zone.number_of_virtual_network_links_with_registration == 1
    assert [x.name for x in links.list(RG, ZONE)] == ["link-hub"]
    assert links.get(RG, ZONE, "LINK-HUB").id == link.id
    with pytest.raises(ResourceExistsError) as info:
        links.begin_create_or_update(
            RG, ZONE, "link-dup", {"location": "global", "properties": {"virtualNetwork": {"id": vnet}}}
        )
    assert info.value.error.code == "Conflict" and "link-hub" in info.value.error.message
    links.begin_delete(RG, ZONE, "link-hub").result()
    with pytest.raises(ResourceNotFoundError) as info:
        links.get(RG, ZONE, "link-hub")
    assert info.value.error.code == "ResourceNotFound"
    links.begin_delete(RG, ZONE, "link-hub").result()
    assert calls(box, "DELETE", "Microsoft.Network/privateDnsZones/virtualNetworkLinks") == {202: 1, 204: 1}
    with pytest.raises(ResourceNotFoundError) as info:
        links.get(RG, "privatelink.other.example", "link-hub")
    assert info.value.error.code == "ParentResourceNotFound"


# -- PATCH -----------------------------------------------------------------------------------------
def test_zone_patch_replaces_tags_only_and_honours_if_match(box: Sandbox, az: AzureClients) -> None:
    zone = make_zone(az, tags={"owner": "network team", "cost": "1"})
    vnet = put_vnet(box)
    az.privatedns.virtual_network_links.begin_create_or_update(
        RG, ZONE, "link-hub", {"location": "global", "properties": {"virtualNetwork": {"id": vnet}}}
    ).result()
    zones = az.privatedns.private_zones
    patched = zones.begin_update(RG, ZONE, {"tags": {"owner": "dns team"}}).result()
    assert patched.tags == {"owner": "dns team"} and patched.etag != zone.etag
    assert patched.number_of_virtual_network_links == 1 and patched.number_of_record_sets == 1
    untouched = zones.begin_update(RG, ZONE, {}).result()
    assert untouched.tags == {"owner": "dns team"}
    with pytest.raises(ResourceModifiedError) as info:
        zones.begin_update(RG, ZONE, {"tags": {}}, etag=zone.etag, match_condition=MatchConditions.IfNotModified)
    assert info.value.status_code == 412 and info.value.error.code == "PreconditionFailed"
    assert zones.begin_update(
        RG, ZONE, {"tags": {}}, etag=untouched.etag, match_condition=MatchConditions.IfNotModified
    ).result().tags in (None, {})
    with pytest.raises(ResourceNotFoundError) as info:
        zones.begin_update(RG, "privatelink.missing.example", {"tags": {"a": "b"}})
    assert info.value.error.code == "ResourceNotFound"
    with pytest.raises(HttpResponseError) as info:
        zones.begin_update(RG, ZONE, {"location": "eastus"})
    assert info.value.error.code == "LocationNotAvailableForResourceType"
    assert calls(box, "PATCH", "Microsoft.Network/privateDnsZones") == {202: 3, 412: 1, 404: 1, 400: 1}


def test_record_set_patch_replaces_what_it_names_and_keeps_the_rest(az: AzureClients) -> None:
    make_zone(az)
    rs = az.privatedns.record_sets
    created = rs.create_or_update(
        RG,
        ZONE,
        "A",
        "acct",
        {"properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.0.0.4"}], "metadata": {"a": "1"}}},
    )
    meta = rs.update(RG, ZONE, "A", "ACCT", {"properties": {"metadata": {"b": "2"}}})
    assert meta.metadata == {"b": "2"} and meta.ttl == 10 and [a.ipv4_address for a in meta.a_records] == ["10.0.0.4"]
    assert meta.etag != created.etag
    ips = rs.update(RG, ZONE, "A", "acct", {"properties": {"ttl": 60, "aRecords": [{"ipv4Address": "10.0.0.5"}]}})
    assert ips.ttl == 60 and [a.ipv4_address for a in ips.a_records] == ["10.0.0.5"] and ips.metadata == {"b": "2"}
    assert rs.get(RG, ZONE, "A", "acct").as_dict() == ips.as_dict()
    with pytest.raises(ResourceModifiedError):
        rs.update(
            RG,
            ZONE,
            "A",
            "acct",
            {"properties": {"ttl": 5}},
            etag=meta.etag,
            match_condition=MatchConditions.IfNotModified,
        )
    ok = rs.update(
        RG, ZONE, "A", "acct", {"properties": {"ttl": 5}}, etag=ips.etag, match_condition=MatchConditions.IfNotModified
    )
    assert ok.ttl == 5
    with pytest.raises(HttpResponseError) as info:
        rs.update(RG, ZONE, "A", "acct", {"properties": {"aRecords": [{"ipv4Address": "10.0.0.300"}]}})
    assert info.value.status_code == 400 and info.value.error.code == "BadRequest"
    with pytest.raises(ResourceNotFoundError) as info:
        rs.update(RG, ZONE, "A", "missing", {"properties": {"ttl": 5}})
    assert info.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        rs.update(RG, "privatelink.missing.example", "A", "acct", {"properties": {"ttl": 5}})
    assert info.value.error.code == "ParentResourceNotFound"


def test_link_patch_merges_registration_and_tags_but_keeps_the_vnet(box: Sandbox, az: AzureClients) -> None:
    make_zone(az)
    vnet = put_vnet(box)
    other = put_vnet(box, "vnet-spoke")
    links = az.privatedns.virtual_network_links
    link = links.begin_create_or_update(
        RG, ZONE, "link-hub", {"location": "global", "tags": {"k": "v"}, "properties": {"virtualNetwork": {"id": vnet}}}
    ).result()
    patched = links.begin_update(RG, ZONE, "link-hub", {"properties": {"registrationEnabled": True}}).result()
    assert patched.registration_enabled is True and patched.tags == {"k": "v"} and patched.virtual_network.id == vnet
    tagged = links.begin_update(RG, ZONE, "link-hub", {"tags": {"k2": "v2"}}).result()
    assert tagged.tags == {"k2": "v2"} and tagged.registration_enabled is True and tagged.etag != link.etag
    with pytest.raises(HttpResponseError) as info:
        links.begin_update(RG, ZONE, "link-hub", {"properties": {"virtualNetwork": {"id": other}}})
    assert info.value.status_code == 400 and info.value.error.code == "BadRequest"
    assert "cannot be changed" in info.value.error.message and other in info.value.error.message
    assert links.get(RG, ZONE, "link-hub").virtual_network.id == vnet
    with pytest.raises(ResourceModifiedError):
        links.begin_update(
            RG, ZONE, "link-hub", {"tags": {}}, etag=link.etag, match_condition=MatchConditions.IfNotModified
        )
    with pytest.raises(ResourceNotFoundError) as info:
        links.begin_update(RG, ZONE, "link-missing", {"tags": {}})
    assert info.value.error.code == "ResourceNotFound"
    assert calls(box, "PATCH", "Microsoft.Network/privateDnsZones/virtualNetworkLinks") == {
        202: 2,
        400: 1,
        412: 1,
        404: 1,
    }


# -- operations in progress ----------------------------------------------------------------------
def _until_settled(read: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 10
    while (found := read()).provisioning_state not in ("Succeeded", "Failed"):
        assert time.monotonic() < deadline, f"still {found.provisioning_state}"
        time.sleep(0.1)
    return found


def test_a_zone_shows_creating_then_updating_and_refuses_writes_meanwhile(box: Sandbox, az: AzureClients) -> None:
    vnet = put_vnet(box)
    box.app.behaviour.set_latencies(
        [
            LatencySeed(method=m, resource_type="Microsoft.Network/privateDnsZones", seconds=1.0)
            for m in ("PUT", "PATCH")
        ]
    )
    zones, links = az.privatedns.private_zones, az.privatedns.virtual_network_links
    zones.begin_create_or_update(RG, ZONE, {"location": "global"}, polling=False)
    assert zones.get(RG, ZONE).provisioning_state == "Creating"
    link_body = {"location": "global", "properties": {"virtualNetwork": {"id": vnet}}}
    for write in (
        lambda: zones.begin_create_or_update(RG, ZONE, {"location": "global"}),
        lambda: zones.begin_update(RG, ZONE, {"tags": {"a": "b"}}),
        lambda: zones.begin_delete(RG, ZONE),
        lambda: links.begin_create_or_update(RG, ZONE, "link-hub", link_body),
    ):
        with pytest.raises(HttpResponseError) as info:
            write()
        assert info.value.status_code == 409 and info.value.error.code == "AnotherOperationInProgress"
        assert "To retrieve status of the operation use uri: " + box.info.arm_url in info.value.error.message
    assert _until_settled(lambda: zones.get(RG, ZONE)).provisioning_state == "Succeeded"
    zones.begin_update(RG, ZONE, {"tags": {"a": "b"}}, polling=False)
    assert zones.get(RG, ZONE).provisioning_state == "Updating"
    assert _until_settled(lambda: zones.get(RG, ZONE)).tags == {"a": "b"}


def test_a_link_to_a_vnet_still_updating_fails_and_a_busy_link_refuses_writes(box: Sandbox, az: AzureClients) -> None:
    make_zone(az)
    network = clients(Target.sandbox(box.info)).network
    box.app.behaviour.set_latencies(
        [LatencySeed(method="PUT", resource_type="Microsoft.Network/virtualNetworks", seconds=1.0)]
    )
    network.virtual_networks.begin_create_or_update(
        RG,
        "vnet-new",
        {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.30.0.0/16"]}}},
        polling=False,
    )
    vnet = vnet_id(box, "vnet-new")
    links = az.privatedns.virtual_network_links
    body = {"location": "global", "properties": {"virtualNetwork": {"id": vnet}}}
    with pytest.raises(HttpResponseError) as info:
        links.begin_create_or_update(RG, ZONE, "link-new", body)
    assert info.value.status_code == 400 and info.value.error.code == "ReferencedResourceNotProvisioned"
    assert info.value.error.message.startswith(
        f"Cannot proceed with operation because resource {vnet} used by resource "
    )
    assert info.value.error.message.endswith(
        "is not in Succeeded state. Resource is in Updating state and the last operation that updated/is updating "
        "the resource is PutVirtualNetworkOperation."
    )
    _until_settled(lambda: network.virtual_networks.get(RG, "vnet-new"))

    box.app.behaviour.set_latencies(
        [LatencySeed(method="PUT", resource_type="Microsoft.Network/privateDnsZones/virtualNetworkLinks", seconds=1.0)]
    )
    links.begin_create_or_update(RG, ZONE, "link-new", body, polling=False)
    assert links.get(RG, ZONE, "link-new").provisioning_state == "Creating"
    for write in (
        lambda: links.begin_update(RG, ZONE, "link-new", {"properties": {"registrationEnabled": True}}),
        lambda: links.begin_delete(RG, ZONE, "link-new"),
    ):
        with pytest.raises(HttpResponseError) as info:
            write()
        assert info.value.status_code == 409 and info.value.error.code == "AnotherOperationInProgress"
    assert _until_settled(lambda: links.get(RG, ZONE, "link-new")).provisioning_state == "Succeeded"


# -- helpers shared with the network provider --------------------------------------------------------
def test_zone_group_helpers_merge_and_remove_addresses(box: Sandbox, az: AzureClients) -> None:
    zone = make_zone(az)
    privatedns.upsert_a_record(box.world, zone.id, "stfinrepl01", ["10.20.1.4"])
    privatedns.upsert_a_record(box.world, zone.id, "stfinrepl01", ["10.20.1.4", "10.20.1.5"])
    got = az.privatedns.record_sets.get(RG, ZONE, "A", "stfinrepl01")
    assert [a.ipv4_address for a in got.a_records] == ["10.20.1.4", "10.20.1.5"] and got.ttl == 10
    privatedns.remove_a_record(box.world, zone.id, "stfinrepl01", ["10.20.1.4"])
    assert [a.ipv4_address for a in az.privatedns.record_sets.get(RG, ZONE, "A", "stfinrepl01").a_records] == [
        "10.20.1.5"
    ]
    privatedns.remove_a_record(box.world, zone.id, "stfinrepl01", ["10.20.1.5"])
    with pytest.raises(ResourceNotFoundError):
        az.privatedns.record_sets.get(RG, ZONE, "A", "stfinrepl01")
    with pytest.raises(Exception, match="ResourceNotFound"):
        privatedns.upsert_a_record(box.world, zone.id + "-missing", "x", ["10.0.0.1"])


# -- the contract ----------------------------------------------------------------------------------
def _shape(value: Any) -> Any:
    """Keys and nesting, with enum-like strings kept and free values dropped."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in {"tags", "metadata", "nextLink"}}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_shapes_match_the_official_examples(box: Sandbox, az: AzureClients) -> None:
    def example(name: str, status: str = "200") -> Any:
        return json.loads((EXAMPLES / name).read_text())["responses"][status]["body"]

    def raw(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
        return pipeline_response.http_response.json()

    zone_put = json.loads((EXAMPLES / "PrivateZonePut.json").read_text())["parameters"]["parameters"]
    az.privatedns.private_zones.begin_create_or_update(RG, "privatezone1.com", zone_put).result()
    got = az.privatedns.private_zones.get(RG, "privatezone1.com", cls=raw)
    assert _shape(got) == _shape(example("PrivateZoneGet.json")) | {
        "properties": _shape(example("PrivateZoneGet.json")["properties"]) | {"internalId": "str"}
    }
    record_put = json.loads((EXAMPLES / "RecordSetAPut.json").read_text())["parameters"]["parameters"]
    got = az.privatedns.record_sets.create_or_update(RG, "privatezone1.com", "A", "recordA", record_put, cls=raw)
    assert _shape(got) == _shape(example("RecordSetAPut.json", "201"))
    assert got["name"] == "recorda" and got["properties"]["metadata"] == {"key1": "value1"}
    assert _shape(az.privatedns.record_sets.get(RG, "privatezone1.com", "A", "recordA", cls=raw)) == _shape(
        example("RecordSetAGet.json")
    )
    link_put = json.loads((EXAMPLES / "VirtualNetworkLinkPut.json").read_text())["parameters"]["parameters"]
    link_put["properties"]["virtualNetwork"]["id"] = put_vnet(box)
    az.privatedns.virtual_network_links.begin_create_or_update(
        RG, "privatezone1.com", "virtualNetworkLink1", link_put
    ).result()
    got = az.privatedns.virtual_network_links.get(RG, "privatezone1.com", "virtualNetworkLink1", cls=raw)
    assert _shape(got) == _shape(example("VirtualNetworkLinkGet.json"))
    assert got["properties"]["virtualNetworkLinkState"] == "Completed"
