"""The contract: Microsoft's official request/response examples replayed against the sandbox.

Every file under azure-examples/ (see SOURCES.md; the files are never edited) has a row in CASES: the
HTTP method and path template of its operation (from the REST spec / SDK source), the body parameter,
the prerequisites made first through plain HTTPS calls, and every substitution with its reason. The
test sends the example's request body over HTTPS with the bearer token and the example's
api-version, follows the long-running operation to its end, checks the status is one the example
lists, and compares the response body's shape with the example's (`shape_mismatches`).

Names (resource groups, VNets, endpoints...) are the example's own. The sandbox runs with the
example's subscription ID, so IDs in requests need no rewriting; only `{subscription-id}`, a
placeholder that cannot be in a URL, becomes the zero GUID the storage examples use elsewhere.
Examples the sandbox cannot serve are xfails with the reason, listed in docs/sandbox.md.
"""

from __future__ import annotations

import copy
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from plmigrate.sandbox import Sandbox, Scenario

EXAMPLES = Path(__file__).parent / "azure-examples"
ZERO_SUB = "00000000-0000-0000-0000-000000000000"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"  # a built-in role with dataActions

# -- the shape comparison ------------------------------------------------------------------------

# Keys whose string values are enum-like: the sandbox must emit the example's value, not just a string.
ENUM_KEYS = frozenset(
    {
        "status",
        "provisioningState",
        "kind",
        "tier",
        "type",
        "principalType",
        "recordType",
        "actionsRequired",
        "actionRequired",
        "ipVersionType",
        "defaultAction",
        "publicNetworkAccess",
        "privateEndpointStateForBackup",
        "privateEndpointStateForSiteRecovery",
        "keySource",
        "keyType",
        "accessTier",
        "minimumTlsVersion",
        "expirationAction",
        "routingChoice",
        "virtualNetworkLinkState",
        "privateIPAllocationMethod",
        "privateIPAddressVersion",
    }
)
# Long-running calls answer before they finish: their first body may say the work is in flight.
# Examples disagree on which (Succeeded or in-flight), so either is accepted there.
IN_FLIGHT = frozenset({"Accepted", "Creating", "Updating", "Provisioning", "Running", "InProgress", "Succeeded"})


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _skipped(path: str, skip: frozenset[str]) -> bool:
    return any(path == s or path.startswith(s + ".") or path.startswith(s + "[]") for s in skip)


def shape_mismatches(
    expected: Any,
    actual: Any,
    *,
    skip: frozenset[str] = frozenset(),
    data: frozenset[str] = frozenset(),
    in_flight: bool = False,
    path: str = "",
) -> list[str]:
    """Where `actual` does not have the shape of `expected`, one line each ([] when it does).

    Every key path of `expected` must exist in `actual` with the same JSON type (null in the example
    accepts anything; int and float are both numbers). List items are compared pairwise by position,
    and a non-empty example list needs a non-empty actual list. String values under ENUM_KEYS must be
    equal unless their path is in `data`. Paths in `skip` (and everything below them) are not checked;
    `in_flight` (the first answer of an LRO) accepts any in-progress or Succeeded `provisioningState`
    where the example has one of those.
    Paths look like `properties.privateLinkServiceConnections[].properties.groupIds`.
    """
    if _skipped(path, skip) or expected is None:
        return []
    where = path or "(body)"
    if _json_type(expected) != _json_type(actual):
        return [f"{where}: expected {_json_type(expected)}, got {_json_type(actual)} ({json.dumps(actual)[:80]})"]
    out: list[str] = []
    if isinstance(expected, dict):
        for name, value in expected.items():
            child = f"{path}.{name}" if path else name
            if _skipped(child, skip):
                continue
            if name not in actual:
                out.append(f"{child}: missing")
                continue
            if isinstance(value, str) and name in ENUM_KEYS and child not in data:
                got = actual[name]
                # ARM resource types are case-insensitive: Microsoft's own examples spell
                # `Microsoft.RecoveryServices/vaults` and `.../Vaults` for the same type.
                same = got.lower() == value.lower() if name == "type" else got == value
                if not same and not (in_flight and name == "provisioningState" and {got, value} <= IN_FLIGHT):
                    out.append(f"{child}: expected {value!r}, got {got!r}")
                    continue
            out.extend(shape_mismatches(value, actual[name], skip=skip, data=data, in_flight=in_flight, path=child))
    elif isinstance(expected, list):
        if expected and not actual:
            out.append(f"{where}: empty, the example has {len(expected)} item(s)")
        for exp_item, act_item in zip(expected, actual, strict=False):
            out.extend(
                shape_mismatches(exp_item, act_item, skip=skip, data=data, in_flight=in_flight, path=path + "[]")
            )
    return out


def test_shape_mismatches_finds_missing_keys_wrong_types_and_enum_values() -> None:
    example = {
        "id": "/x",
        "tags": None,
        "properties": {
            "provisioningState": "Succeeded",
            "count": 3,
            "enabled": True,
            "connections": [{"properties": {"status": "Approved", "groupIds": ["blob"]}}],
            "extra": {"a": 1},
        },
    }
    same = copy.deepcopy(example) | {"more": "the sandbox may add keys"}
    same["properties"]["count"] = 4.5
    same["tags"] = {"k": "v"}
    assert shape_mismatches(example, same) == []

    broken = copy.deepcopy(example)
    del broken["id"]
    broken["properties"]["count"] = "3"
    broken["properties"]["enabled"] = None
    broken["properties"]["provisioningState"] = "Updating"
    broken["properties"]["connections"][0]["properties"]["status"] = "Pending"
    broken["properties"]["connections"][0]["properties"]["groupIds"] = []
    broken["properties"]["extra"] = []
    assert shape_mismatches(example, broken) == [
        "id: missing",
        "properties.provisioningState: expected 'Succeeded', got 'Updating'",
        'properties.count: expected number, got string ("3")',
        "properties.enabled: expected boolean, got null (null)",
        "properties.connections[].properties.status: expected 'Approved', got 'Pending'",
        "properties.connections[].properties.groupIds: empty, the example has 1 item(s)",
        "properties.extra: expected object, got array ([])",
    ]
    relaxed = shape_mismatches(
        example,
        broken,
        skip=frozenset({"id", "properties.extra", "properties.connections"}),
        data=frozenset({"properties.provisioningState"}),
    )
    assert relaxed == [
        'properties.count: expected number, got string ("3")',
        "properties.enabled: expected boolean, got null (null)",
    ]
    in_flight = shape_mismatches({"provisioningState": "Succeeded"}, {"provisioningState": "Updating"}, in_flight=True)
    assert in_flight == []
    assert shape_mismatches([{"a": 1}], []) == ["(body): empty, the example has 1 item(s)"]


# -- talking to the sandbox ----------------------------------------------------------------------
class Api:
    """Plain HTTPS to the sandbox with the bearer token; LROs followed as ARM clients follow them."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = sandbox.info.arm_url
        self.sub = sandbox.info.subscription_id
        self.token = sandbox.info.token
        self.context = ssl.create_default_context(cafile=sandbox.info.ca_file)

    def url(self, path: str, api_version: str) -> str:
        joiner = "&" if "?" in path else "?"
        return f"{self.base}{path}{joiner}api-version={api_version}"

    def send(self, method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        # Official examples' hosts (management.azure.com) are rewritten to the sandbox.
        url = re.sub(r"^https://management\.azure\.com", self.base, url)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        return status, headers, (json.loads(raw) if raw else None)

    def finish(self, method: str, url: str, status: int, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        """Follow a long-running operation; return the final (status, body), as the SDK's poller would."""
        async_url, location = headers.get("Azure-AsyncOperation"), headers.get("Location")
        if status not in (201, 202) or not (async_url or location):
            return status, body
        for _ in range(50):
            if async_url:
                poll_status, _, poll = self.send("GET", async_url)
                assert poll_status == 200, poll
                if poll["status"] in {"Succeeded", "Failed", "Canceled"}:
                    assert poll["status"] == "Succeeded", f"LRO ended {poll}"
                    break
            else:
                poll_status, poll_headers, poll = self.send("GET", location)  # type: ignore[arg-type]
                if poll_status != 202:
                    assert poll_status < 300, poll
                    if method in {"PUT", "PATCH"} and poll is None:
                        return self.send("GET", url)[::2]  # type: ignore[return-value]
                    return poll_status, poll
                location = poll_headers.get("Location", location)
            time.sleep(0.01)
        else:
            pytest.fail(f"LRO of {method} {url} never finished")
        if method in {"PUT", "PATCH"}:
            final_status, _, final = self.send("GET", url)
            return final_status, final
        if location:  # POST/DELETE: the Location URL has the result
            final_status, _, final = self.send("GET", location)
            return final_status, final
        return 200, None

    def ensure(self, path: str, body: Any, api_version: str, method: str = "PUT") -> Any:
        """Make a prerequisite; fail loudly if the sandbox refuses (the replay would mean nothing)."""
        url = self.url(path, api_version)
        status, headers, answer = self.send(method, url, body)
        assert status < 300, f"prerequisite {method} {path}: {status} {answer}"
        status, final = self.finish(method, url, status, headers, answer)
        assert status < 300, f"prerequisite {method} {path}: {status} {final}"
        return final

    def get(self, path: str, api_version: str) -> Any:
        status, _, body = self.send("GET", self.url(path, api_version))
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The sandbox's admin API (what a person on-prem, or Azure itself, does)."""
        status, _, answer = self.send(method, f"{self.base}/_sandbox{path}", body)
        assert status < 300, f"admin {method} {path}: {status} {answer}"
        return answer


# -- prerequisites (made with the example's names) ------------------------------------------------
NETWORK, DNS, STORAGE, VAULTS, AUTHZ, GROUPS = (
    "2025-05-01",
    "2024-06-01",
    "2025-06-01",
    "2025-08-01",
    "2022-04-01",
    "2025-04-01",
)


def rg_id(api: Api, group: str) -> str:
    return f"/subscriptions/{api.sub}/resourceGroups/{group}"


def make_rg(api: Api, group: str, location: str = "eastus") -> None:
    api.ensure(rg_id(api, group), {"location": location}, GROUPS)


def make_vnet(
    api: Api, group: str, vnet: str, subnet: str = "default", prefix: str = "10.0.0.0/16", location: str = "eastus"
) -> str:
    """A VNet with one subnet covering its first /24; returns the subnet ID."""
    make_rg(api, group, location)
    first24 = prefix.split("/")[0].rsplit(".", 1)[0] + ".0/24"
    vnet_id = f"{rg_id(api, group)}/providers/Microsoft.Network/virtualNetworks/{vnet}"
    body = {
        "location": location,
        "properties": {
            "addressSpace": {"addressPrefixes": [prefix]},
            "subnets": [{"name": subnet, "properties": {"addressPrefix": first24}}],
        },
    }
    api.ensure(vnet_id, body, NETWORK)
    return f"{vnet_id}/subnets/{subnet}"


def make_account(api: Api, group: str, name: str, body: dict[str, Any] | None = None) -> str:
    make_rg(api, group)
    account_id = f"{rg_id(api, group)}/providers/Microsoft.Storage/storageAccounts/{name}"
    body = body or {"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    api.ensure(account_id, body, STORAGE)
    return account_id


def make_vault(api: Api, group: str, name: str, location: str = "westus", tags: dict[str, str] | None = None) -> str:
    make_rg(api, group, location)
    vault_id = f"{rg_id(api, group)}/providers/Microsoft.RecoveryServices/vaults/{name}"
    body = {
        "location": location,
        "identity": {"type": "SystemAssigned"},
        "sku": {"name": "Standard"},
        "properties": {"publicNetworkAccess": "Enabled"},
        "tags": tags or {"TestUpdatedKey": "TestUpdatedValue"},
    }
    api.ensure(vault_id, body, VAULTS)
    return vault_id


def make_endpoint(
    api: Api,
    group: str,
    name: str,
    subnet_id: str,
    target_id: str,
    group_id: str = "blob",
    *,
    manual: bool = False,
    location: str = "eastus",
    nic_name: str | None = None,
) -> dict[str, Any]:
    """A private endpoint made as the examples make theirs (a request message, a custom NIC name)."""
    endpoint_id = f"{rg_id(api, group)}/providers/Microsoft.Network/privateEndpoints/{name}"
    connection = {
        "name": f"{name}-conn",
        "properties": {
            "privateLinkServiceId": target_id,
            "groupIds": [group_id],
            "requestMessage": "Please approve my connection.",
        },
    }
    key = "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    props: dict[str, Any] = {"subnet": {"id": subnet_id}, key: [connection]}
    if nic_name:
        props["customNetworkInterfaceName"] = nic_name
    return api.ensure(endpoint_id, {"location": location, "properties": props}, NETWORK)


def make_zone(api: Api, group: str, zone: str, tags: dict[str, str] | None = None) -> str:
    make_rg(api, group)
    zone_id = f"{rg_id(api, group)}/providers/Microsoft.Network/privateDnsZones/{zone}"
    api.ensure(zone_id, {"location": "global", "tags": tags or {}}, DNS)
    return zone_id


BLOB_ZONE = "privatelink.blob.core.windows.net"


def _pe_world(api: Api, location: str) -> tuple[str, str]:
    """rg1 with myVnet/mySubnet (192.168.0.0/24, so the examples' static IPs fit) and a storage
    account `testpls` standing in for the examples' private link service `testPls`."""
    subnet = make_vnet(api, "rg1", "myVnet", "mySubnet", "192.168.0.0/16", location)
    return subnet, make_account(api, "rg1", "testpls")


def pe_world(location: str) -> Callable[[Api], dict[str, str]]:
    def build(api: Api) -> dict[str, str]:
        _pe_world(api, location)
        return {}

    return build


def pe_with_endpoint(api: Api) -> dict[str, str]:
    make_endpoint(api, "rg1", "testPe", *_pe_world(api, "eastus"), nic_name="testPeNic")
    return {}


def pe_manual(api: Api) -> dict[str, str]:
    make_endpoint(api, "rg1", "testPe", *_pe_world(api, "eastus"), manual=True, nic_name="testPeNic")
    return {}


def pe_list(api: Api) -> dict[str, str]:
    """Two endpoints in rg1, as the list example has (one automatic, one manual)."""
    subnet, target = _pe_world(api, "eastus")
    make_endpoint(api, "rg1", "testPe", subnet, target, nic_name="testPeNic")
    make_endpoint(api, "rg1", "testPe2", subnet, target, manual=True, nic_name="testPe2Nic")
    return {}


def zone_group_world(api: Api) -> dict[str, str]:
    pe_with_endpoint(api)
    make_zone(api, "rg1", BLOB_ZONE)
    return {}


def zone_group_made(api: Api) -> dict[str, str]:
    zone_group_world(api)
    zone_id = f"{rg_id(api, 'rg1')}/providers/Microsoft.Network/privateDnsZones/{BLOB_ZONE}"
    body = {"properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": zone_id}}]}}
    endpoint = f"{rg_id(api, 'rg1')}/providers/Microsoft.Network/privateEndpoints/testPe"
    api.ensure(f"{endpoint}/privateDnsZoneGroups/testPdnsgroup", body, NETWORK)
    return {}


def nic_of_endpoint(api: Api) -> dict[str, str]:
    """The sandbox makes network interfaces only for private endpoints: use the NIC of one."""
    make_vnet(api, "rg1", "rg1-vnet", "default", "172.20.0.0/16")
    account = make_account(api, "rg1", "testpls")
    subnet = f"{rg_id(api, 'rg1')}/providers/Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default"
    endpoint = make_endpoint(api, "rg1", "test-pe", subnet, account)
    return {"networkInterfaceName": endpoint["properties"]["networkInterfaces"][0]["id"].rsplit("/", 1)[1]}


def subnet_world(api: Api) -> dict[str, str]:
    make_vnet(api, "subnet-test", "vnetname", "subnet1")
    return {}


def vnet_world(api: Api) -> dict[str, str]:
    make_vnet(api, "rg1", "test-vnet", "test-1", "10.0.0.0/16")
    return {}


def dns_rg(api: Api) -> dict[str, str]:
    make_rg(api, "resourceGroup1")
    return {}


def dns_zone(api: Api) -> dict[str, str]:
    make_zone(api, "resourceGroup1", "privatezone1.com", {"key1": "value1"})
    return {}


def dns_record(api: Api) -> dict[str, str]:
    zone = make_zone(api, "resourceGroup1", "privatezone1.com")
    body = {"properties": {"ttl": 3600, "aRecords": [{"ipv4Address": "1.2.3.4"}], "metadata": {"key1": "value1"}}}
    api.ensure(f"{zone}/A/recordA", body, DNS)
    api.ensure(
        f"{zone}/A/recordB", body | {"properties": body["properties"] | {"aRecords": [{"ipv4Address": "1.2.3.5"}]}}, DNS
    )
    return {}


def dns_link_world(api: Api) -> dict[str, str]:
    dns_zone(api)
    make_vnet(api, "virtualNetworkResourceGroup", "virtualNetworkName")
    return {}


def dns_link(api: Api) -> dict[str, str]:
    dns_link_world(api)
    zone = f"{rg_id(api, 'resourceGroup1')}/providers/Microsoft.Network/privateDnsZones/privatezone1.com"
    vnet = f"{rg_id(api, 'virtualNetworkResourceGroup')}/providers/Microsoft.Network/virtualNetworks/virtualNetworkName"
    body = {
        "location": "global",
        "tags": {"key1": "value1"},
        "properties": {"virtualNetwork": {"id": vnet}, "registrationEnabled": False},
    }
    api.ensure(f"{zone}/virtualNetworkLinks/virtualNetworkLink1", body, DNS)
    return {}


def vault_rg(group: str, location: str = "westus") -> Callable[[Api], dict[str, str]]:
    def build(api: Api) -> dict[str, str]:
        make_rg(api, group, location)
        return {}

    return build


def vault(group: str, name: str) -> Callable[[Api], dict[str, str]]:
    def build(api: Api) -> dict[str, str]:
        make_vault(api, group, name)
        return {}

    return build


def listed_vaults(api: Api) -> dict[str, str]:
    """The three vaults of the list examples, with their tags."""
    group = "Default-RecoveryServices-ResourceGroup"
    make_vault(api, group, "patchtest", tags={"Love": "India"})
    make_vault(api, group, "swaggerExample")
    make_vault(api, group, "today1")
    return {}


def vault_with_endpoint(api: Api) -> dict[str, str]:
    """The GET example's vault has an approved private endpoint connection."""
    vault_id = make_vault(api, "Default-RecoveryServices-ResourceGroup", "swaggerExample")
    subnet = make_vnet(api, "Default-RecoveryServices-ResourceGroup", "vnet1", location="westus")
    make_endpoint(
        api, "Default-RecoveryServices-ResourceGroup", "pe114", subnet, vault_id, "AzureSiteRecovery", location="westus"
    )
    return {}


def storage_rg(group: str) -> Callable[[Api], dict[str, str]]:
    def build(api: Api) -> dict[str, str]:
        make_rg(api, group)
        return {}

    return build


def storage_account(group: str, name: str, *, updated: bool = False) -> Callable[[Api], dict[str, str]]:
    """The account the storage examples read and update: made from StorageAccountCreate.json's own
    request (kind Storage, Standard_GRS, tags, routing preference), without its EdgeZone; `updated`:
    then patched with StorageAccountUpdate.json's request (resource access rules and more)."""

    def build(api: Api) -> dict[str, str]:
        create = json.loads((EXAMPLES / "storage/StorageAccountCreate.json").read_text())
        body = copy.deepcopy(create["parameters"]["parameters"])
        del body["extendedLocation"]
        account = make_account(api, group, name, body)
        if updated:
            update = json.loads((EXAMPLES / "storage/StorageAccountUpdate.json").read_text())
            api.ensure(account, update["parameters"]["parameters"], STORAGE, method="PATCH")
        return {}

    return build


def account_with_connection(group: str, name: str) -> Callable[[Api], dict[str, str]]:
    """A storage account with one private endpoint; the connection name is what the sandbox chose."""

    def build(api: Api) -> dict[str, str]:
        account = make_account(api, group, name)
        subnet = make_vnet(api, group, "vnet1")
        make_endpoint(api, group, "petest01", subnet, account)
        listed = api.get(f"{account}/privateEndpointConnections", STORAGE)["value"]
        return {"privateEndpointConnectionName": listed[0]["name"]}

    return build


def contributor_id(api: Api) -> str:
    return f"/subscriptions/{api.sub}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"


def authz_account(api: Api) -> dict[str, str]:
    make_account(api, "testrg", "testdbaccount")
    return {}


def authz_assignment(scope_path: str, name: str) -> Callable[[Api], dict[str, str]]:
    def build(api: Api) -> dict[str, str]:
        scope = scope_path.format(sub=api.sub)
        if "storageAccounts" in scope:
            authz_account(api)
        body = {
            "properties": {
                "roleDefinitionId": contributor_id(api),
                "principalId": "ce2ce14e-85d7-4629-bdbc-454d0519d987",
                "principalType": "User",
            }
        }
        api.ensure(f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", body, AUTHZ)
        return {}

    return build


# -- Site Recovery prerequisites (the examples' Hyper-V site, made through the admin API) ------------
SR = "2026-05-01"
SR_RG, SR_VAULT_NAME = "resourceGroupPS1", "vault1"
HV_FABRIC, HV_CONTAINER = "cloud1", "cloud_6d224fc6-f326-5d35-96de-fbf51efb3179"
HV_VM1, HV_VM2 = "f8491e4f-817a-40dd-a90c-af773978c75b", "c0c14913-3d7a-48ea-9531-cc99e0e686e6"
_HV_WHY = (
    "the Hyper-V site of the examples (fabric cloud1, its container, provider, policy protectionprofile1 and VMs "
    "vm1/vm2) is registered through the admin API, as a person installing the Site Recovery provider would."
)


def sr_vault(api: Api) -> str:
    return make_vault(api, SR_RG, SR_VAULT_NAME, location="eastus")


def hyperv_site(api: Api) -> dict[str, str]:
    vault_id = sr_vault(api)
    api.admin(
        "POST",
        "/siterecovery/hyperv-sites",
        {
            "vault_id": vault_id,
            "fabric": HV_FABRIC,
            "container": HV_CONTAINER,
            "provider": "241641e6-ee7b-4ee4-8141-821fadda43fa",
            "provider_host": "CP-B3L40406-12.ntdev.corp.microsoft.com",
            "policy": "protectionprofile1",
            "vms": [{"name": HV_VM1, "friendly_name": "vm1"}, {"name": HV_VM2, "friendly_name": "vm2"}],
        },
    )
    return {}


def _hv_container(api: Api) -> str:
    vault = f"{rg_id(api, SR_RG)}/providers/Microsoft.RecoveryServices/vaults/{SR_VAULT_NAME}"
    return f"{vault}/replicationFabrics/{HV_FABRIC}/replicationProtectionContainers/{HV_CONTAINER}"


def hyperv_item(name: str, *steps: str, target_group: str | None = None) -> Callable[[Api], dict[str, str]]:
    """A HyperVReplicaAzure item made with the Create example's input, replicated (the clock
    advanced past initial replication), then taken through `steps`."""

    def build(api: Api) -> dict[str, str]:
        hyperv_site(api)
        container = _hv_container(api)
        vault_id = container.split("/replicationFabrics/")[0]
        details: dict[str, Any] = {"instanceType": "HyperVReplicaAzure"}
        if target_group:
            details["targetAzureV2ResourceGroupId"] = rg_id(api, target_group)
        body = {
            "properties": {
                "policyId": f"{vault_id}/replicationPolicies/protectionprofile1",
                "protectableItemId": f"{container}/replicationProtectableItems/{name}",
                "providerSpecificDetails": details,
            }
        }
        item = f"{container}/replicationProtectedItems/{name}"
        url = api.url(item, SR)
        status, headers, answer = api.send("PUT", url, body)
        assert status == 202, f"enable {name}: {status} {answer}"
        job_name = headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]
        api.admin("POST", "/siterecovery/advance", {"seconds": 60})
        hv = {"instanceType": "HyperVReplicaAzure"}
        for step in steps:
            if step == "resync":
                api.admin("PATCH", f"/siterecovery/items{item}", {"resync_required": True})
                continue
            action, action_body = {
                "test_failover": ("testFailover", {"properties": {"providerSpecificDetails": hv}}),
                "cleanup": ("testFailoverCleanup", {"properties": {"comments": "done"}}),
                "failover": ("unplannedFailover", {"properties": {"providerSpecificDetails": hv}}),
            }[step]
            api.ensure(f"{item}/{action}", action_body, SR, method="POST")
        return {"jobName": job_name}

    return build


def running_job(api: Api) -> dict[str, str]:
    """A test failover job still running: a latency rule makes it last ten minutes."""
    hyperv_item(HV_VM1)(api)
    item = f"{_hv_container(api)}/replicationProtectedItems/{HV_VM1}"
    rule = {"method": "POST", "resource_type": SR_ITEM_TYPE + "/testFailover", "seconds": 600}
    api.admin("PUT", "/latencies", [rule])
    status, headers, answer = api.send("POST", api.url(f"{item}/testFailover", SR), {"properties": {}})
    assert status == 202, answer
    api.admin("PUT", "/latencies", [])
    return {"jobName": headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]}


def registered_appliance(api: Api) -> dict[str, str]:
    api.admin("POST", "/siterecovery/appliances/appliance1/register", {"vault_id": sr_vault(api)})
    return {}


SR_ITEM_TYPE = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems"
)


# -- the table -------------------------------------------------------------------------------------
Patch = Callable[[Any, Api], Any]


@dataclass(frozen=True)
class Case:
    method: str
    template: str  # the REST spec's path; {names} are filled from the example's parameters
    prereqs: tuple[Callable[[Api], dict[str, str]], ...] = ()
    body: str | None = None  # which `parameters` entry is the request body
    params: dict[str, str] = field(default_factory=dict)  # path parameter substitutions ({sub} = ours)
    patch: Patch | None = None  # body substitution
    why: str = ""  # the reason for every substitution above
    skip: dict[str, str] = field(default_factory=dict)  # key path -> why the sandbox does not emit it
    data: tuple[str, ...] = ()  # enum-like key paths that hold data in this example
    xfail: str | None = None
    quirks: dict[str, str] = field(default_factory=dict)  # status -> why its example body is not compared
    gone_after: bool = False  # a DELETE: a GET afterwards must be 404


def _set(path: str, value: Any) -> Patch:
    """A patch that sets one dotted path (list index as a number) in the body."""

    def patch(body: Any, api: Api) -> Any:
        body = copy.deepcopy(body)
        node = body
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        resolved = value(api) if callable(value) else value
        if resolved is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = resolved
        return body

    return patch


_DELETE = object()


def _chain(*patches: Patch) -> Patch:
    def patch(body: Any, api: Api) -> Any:
        for p in patches:
            body = p(body, api)
        return body

    return patch


RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
PE = RG + "/providers/Microsoft.Network/privateEndpoints/{privateEndpointName}"
ZONE = RG + "/providers/Microsoft.Network/privateDnsZones/{privateZoneName}"
VAULT = RG + "/providers/Microsoft.RecoveryServices/vaults/{vaultName}"
ACCOUNT = RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}"
SR_V = RG + "/providers/Microsoft.RecoveryServices/vaults/{resourceName}"
SR_F = SR_V + "/replicationFabrics/{fabricName}"
SR_C = SR_F + "/replicationProtectionContainers/{protectionContainerName}"
SR_I = SR_C + "/replicationProtectedItems/{replicatedProtectedItemName}"
_VMWARE_CBT = (
    "agentless VMware migration (VMwareCbt replicationMigrationItems) is not emulated: plmigrate migrates with "
    "agent-based replication (InMageRcm replicationProtectedItems)"
)
_CONNECTION_WHY = (
    "the connection name is the one the sandbox gave our endpoint's connection (a placeholder in the example)."
)
PLS_AS_ACCOUNT = "/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/testpls"


def _pls_to_account(list_name: str) -> Patch:
    return _chain(
        _set(
            f"properties.{list_name}.0.properties.privateLinkServiceId", lambda api: PLS_AS_ACCOUNT.format(sub=api.sub)
        ),
        _set(f"properties.{list_name}.0.properties.groupIds", ["blob"]),
    )


_STATIC_IP_TO_BLOB = _chain(
    _set("properties.ipConfigurations.0.properties.groupId", "blob"),
    _set("properties.ipConfigurations.0.properties.memberName", "blob"),
)
_ZONE_WHY = (
    "the zone zone1.com becomes privatelink.blob.core.windows.net: records are written only into the zone "
    "of the endpoint's own FQDNs (testpls.blob.core.windows.net), as in Azure"
)
_TAGS_WHY = "the example's response shows tags its request does not send"
_PLS_WHY = (
    "the target `privateLinkServices/testPls` (a customer's Private Link service, out of scope) becomes our "
    "storage account `testpls` and groupIds ['groupIdFromResource'] becomes ['blob']"
)

CASES: dict[str, Case] = {
    # ---- network -------------------------------------------------------------------------------
    "network/PrivateEndpointCreate.json": Case(
        "PUT",
        PE,
        (pe_world("eastus2euap"),),
        body="parameters",
        patch=_chain(_pls_to_account("privateLinkServiceConnections"), _STATIC_IP_TO_BLOB),
        why=_PLS_WHY + "; the static IP configuration's groupId/memberName 'file' becomes 'blob' to match. The "
        "example's sibling `extendedLocation` (EdgeZone) parameter is not part of the body and is not sent.",
        data=("properties.ipConfigurations[].properties.groupId",),
    ),
    "network/PrivateEndpointCreateForManualApproval.json": Case(
        "PUT",
        PE,
        (pe_world("eastus"),),
        body="parameters",
        patch=_chain(_pls_to_account("manualPrivateLinkServiceConnections"), _STATIC_IP_TO_BLOB),
        why=_PLS_WHY + "; static IP configuration 'file' becomes 'blob'.",
        quirks={
            "201": "the example's 201 body is PrivateEndpointCreate's (an automatic connection, Approved), "
            "contradicting its own manual request; its 200 body is compared after the LRO instead"
        },
    ),
    "network/PrivateEndpointCreateWithASG.json": Case(
        "PUT",
        PE,
        (pe_world("eastus2euap"),),
        body="parameters",
        patch=_chain(
            _pls_to_account("privateLinkServiceConnections"), _set("properties.applicationSecurityGroups", _DELETE)
        ),
        why=_PLS_WHY + "; applicationSecurityGroups are out of scope and removed from the request.",
        skip={
            "properties.applicationSecurityGroups": "application security groups are not emulated (request has none)"
        },
    ),
    "network/PrivateEndpointDelete.json": Case(
        "DELETE",
        PE,
        (pe_with_endpoint,),
        why="the example's `parameters` ({location}) is not a DELETE body and is not sent.",
        gone_after=True,
    ),
    "network/PrivateEndpointDnsZoneGroupCreate.json": Case(
        "PUT",
        PE + "/privateDnsZoneGroups/{privateDnsZoneGroupName}",
        (zone_group_world,),
        body="parameters",
        patch=_set(
            "properties.privateDnsZoneConfigs.0.properties.privateDnsZoneId",
            lambda api: f"{rg_id(api, 'rg1')}/providers/Microsoft.Network/privateDnsZones/{BLOB_ZONE}",
        ),
        why=_ZONE_WHY,
    ),
    "network/PrivateEndpointDnsZoneGroupGet.json": Case(
        "GET", PE + "/privateDnsZoneGroups/{privateDnsZoneGroupName}", (zone_group_made,), why=_ZONE_WHY
    ),
    "network/PrivateEndpointGet.json": Case("GET", PE, (pe_with_endpoint,)),
    "network/PrivateEndpointGetForManualApproval.json": Case("GET", PE, (pe_manual,)),
    "network/PrivateEndpointList.json": Case(
        "GET",
        RG + "/providers/Microsoft.Network/privateEndpoints",
        (pe_list,),
    ),
    "network/NetworkInterfaceGet.json": Case(
        "GET",
        RG + "/providers/Microsoft.Network/networkInterfaces/{networkInterfaceName}",
        (nic_of_endpoint,),
        why="the NIC is the one the sandbox made for a private endpoint (it makes NICs for nothing else), "
        "so its name is the one the endpoint reports instead of 'test-nic'.",
        skip={
            "properties.ipConfigurations[].properties.publicIPAddress": "a private endpoint's NIC has no public IP",
            "properties.dnsSettings": "NIC DNS settings are not emulated",
            "properties.macAddress": "not emulated",
            "properties.enableAcceleratedNetworking": "not emulated",
            "properties.enableIPForwarding": "not emulated",
            "properties.disableTcpStateTracking": "not emulated",
            "properties.networkSecurityGroup": "network security groups are not emulated",
            "properties.primary": "not emulated",
            "properties.virtualMachine": "a private endpoint's NIC has no VM",
            "properties.tapConfigurations": "not emulated",
            "properties.vnetEncryptionSupported": "not emulated",
            "properties.auxiliaryMode": "not emulated",
            "properties.auxiliarySku": "not emulated",
            "properties.ipConfigurations[].properties.privateIPAddressPrefixLength": "not emulated",
            "properties.dscpConfiguration": "not emulated",
        },
        data=("properties.ipConfigurations[].properties.privateIPAllocationMethod",),
    ),
    "network/SubnetGet.json": Case(
        "GET",
        RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}",
        (subnet_world,),
    ),
    "network/VirtualNetworkGet.json": Case(
        "GET",
        RG + "/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}",
        (vnet_world,),
        skip={
            "properties.enableDdosProtection": "DDoS protection is not emulated",
            "properties.defaultPublicNatGateway": "NAT gateways are not emulated",
            "properties.subnets[].properties.ipConfigurations": "listed only when the subnet is in use (empty here)",
            "properties.flowTimeoutInMinutes": "not emulated",
        },
    ),
    # ---- private DNS ---------------------------------------------------------------------------
    "privatedns/PrivateZonePut.json": Case("PUT", ZONE, (dns_rg,), body="parameters"),
    "privatedns/PrivateZoneGet.json": Case("GET", ZONE, (dns_zone,)),
    "privatedns/PrivateZonePatch.json": Case("PATCH", ZONE, (dns_zone,), body="parameters"),
    "privatedns/RecordSetAPut.json": Case(
        "PUT", ZONE + "/{recordType}/{relativeRecordSetName}", (dns_zone,), body="parameters"
    ),
    "privatedns/RecordSetAGet.json": Case("GET", ZONE + "/{recordType}/{relativeRecordSetName}", (dns_record,)),
    "privatedns/RecordSetAList.json": Case(
        "GET",
        ZONE + "/{recordType}",
        (dns_record,),
        skip={"nextLink": "the sandbox sends nextLink only when another page follows (here: two record sets)"},
    ),
    "privatedns/RecordSetAPatch.json": Case(
        "PATCH", ZONE + "/{recordType}/{relativeRecordSetName}", (dns_record,), body="parameters"
    ),
    "privatedns/VirtualNetworkLinkPut.json": Case(
        "PUT",
        ZONE + "/virtualNetworkLinks/{virtualNetworkLinkName}",
        (dns_link_world,),
        body="parameters",
        patch=_set(
            "properties.virtualNetwork.id",
            lambda api: (
                f"/subscriptions/{api.sub}/resourceGroups/virtualNetworkResourceGroup/providers/"
                "Microsoft.Network/virtualNetworks/virtualNetworkName"
            ),
        ),
        why="the VNet's subscription 'virtualNetworkSubscriptionId' becomes the sandbox's one subscription.",
    ),
    "privatedns/VirtualNetworkLinkGet.json": Case(
        "GET", ZONE + "/virtualNetworkLinks/{virtualNetworkLinkName}", (dns_link,)
    ),
    "privatedns/VirtualNetworkLinkPatch.json": Case(
        "PATCH", ZONE + "/virtualNetworkLinks/{virtualNetworkLinkName}", (dns_link,), body="parameters"
    ),
    # ---- Recovery Services ---------------------------------------------------------------------
    "recoveryservices/PUTVault.json": Case(
        "PUT",
        VAULT,
        (vault_rg("Default-RecoveryServices-ResourceGroup"),),
        body="vault",
        skip={"tags": _TAGS_WHY},
    ),
    "recoveryservices/PUTVault_WithUserAssignedIdentity.json": Case(
        "PUT",
        VAULT,
        (vault_rg("Default-RecoveryServices-ResourceGroup"),),
        body="vault",
        skip={"tags": _TAGS_WHY},
    ),
    "recoveryservices/PATCHVault.json": Case("PATCH", VAULT, (vault("HelloWorld", "swaggerExample"),), body="vault"),
    "recoveryservices/GETVault.json": Case(
        "GET",
        VAULT,
        (vault_with_endpoint,),
        why="the vault's private endpoint is for Site Recovery (AzureSiteRecovery) where the example's is for "
        "Backup (AzureBackup, not emulated), so the two privateEndpointStateFor* values trade places.",
        data=("properties.privateEndpointStateForBackup", "properties.privateEndpointStateForSiteRecovery"),
    ),
    "recoveryservices/ListResources.json": Case(
        "GET",
        RG + "/providers/Microsoft.RecoveryServices/vaults",
        (listed_vaults,),
    ),
    "recoveryservices/ListBySubscriptionIds.json": Case(
        "GET", "/subscriptions/{subscriptionId}/providers/Microsoft.RecoveryServices/vaults", (listed_vaults,)
    ),
    "recoveryservices/ListPrivateLinkResources.json": Case(
        "GET", VAULT + "/privateLinkResources", (vault("petesting", "pemsi-ecy-rsv2"),)
    ),
    "recoveryservices/GetPrivateLinkResources.json": Case(
        "GET",
        VAULT + "/privateLinkResources/{privateLinkResourceName}",
        (vault("petesting", "pemsi-ecy-rsv2"),),
    ),
    # ---- storage -------------------------------------------------------------------------------
    "storage/StorageAccountCreate.json": Case(
        "PUT",
        ACCOUNT,
        (storage_rg("res9101"),),
        body="parameters",
        patch=_set("extendedLocation", _DELETE),
        why="extendedLocation (an EdgeZone) is out of scope and removed from the request.",
        skip={"extendedLocation": "EdgeZones are not emulated (the request has none)"},
    ),
    "storage/StorageAccountGetProperties.json": Case(
        "GET",
        ACCOUNT,
        (storage_account("res9407", "sto8596", updated=True),),
        skip={
            "properties.geoReplicationStats": "only with $expand=geoReplicationStats; geo-replication is not emulated",
            "properties.geoPriorityReplicationStatus": "geo priority replication is not emulated",
        },
    ),
    "storage/StorageAccountUpdate.json": Case(
        "PATCH", ACCOUNT, (storage_account("res9407", "sto8596"),), body="parameters"
    ),
    "storage/StorageAccountUpdateDisablePublicNetworkAccess.json": Case(
        "PATCH", ACCOUNT, (storage_account("res9407", "sto8596"),), body="parameters"
    ),
    "storage/StorageAccountListPrivateEndpointConnections.json": Case(
        "GET", ACCOUNT + "/privateEndpointConnections", (account_with_connection("res6977", "sto2527"),)
    ),
    "storage/StorageAccountGetPrivateEndpointConnection.json": Case(
        "GET",
        ACCOUNT + "/privateEndpointConnections/{privateEndpointConnectionName}",
        (account_with_connection("res6977", "sto2527"),),
        why=_CONNECTION_WHY,
    ),
    "storage/StorageAccountPutPrivateEndpointConnection.json": Case(
        "PUT",
        ACCOUNT + "/privateEndpointConnections/{privateEndpointConnectionName}",
        (account_with_connection("res7687", "sto9699"),),
        body="properties",
        why=_CONNECTION_WHY,
    ),
    "storage/StorageAccountDeletePrivateEndpointConnection.json": Case(
        "DELETE",
        ACCOUNT + "/privateEndpointConnections/{privateEndpointConnectionName}",
        (account_with_connection("res6977", "sto2527"),),
        why=_CONNECTION_WHY,
        gone_after=True,
    ),
    # ---- authorization -------------------------------------------------------------------------
    "authorization/GetRoleDefinitionById.json": Case(
        "GET",
        "/{roleId}",
        params={
            "roleId": "subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/" + BLOB_DATA_CONTRIBUTOR
        },
        why="the placeholder roleId becomes a built-in role the sandbox knows (Storage Blob Data Contributor).",
        data=("properties.type",),
    ),
    "authorization/GetRoleDefinitionByName.json": Case(
        "GET",
        "/{scope}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}",
        params={"scope": "subscriptions/{sub}", "roleDefinitionId": BLOB_DATA_CONTRIBUTOR},
        why="the placeholders scope and roleDefinitionId become our subscription and Storage Blob Data Contributor.",
        data=("properties.type",),
    ),
    "authorization/RoleAssignments_CreateForResourceGroup.json": Case(
        "PUT",
        "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        (storage_rg("testrg"),),
        body="parameters",
        patch=_set(
            "properties.roleDefinitionId",
            contributor_id,
        ),
        why="the role 0b5fe924-… (a Cosmos DB role) becomes Contributor, a built-in role the sandbox knows.",
    ),
    "authorization/RoleAssignments_CreateForResource.json": Case(
        "PUT",
        "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        (authz_account,),
        body="parameters",
        params={
            "scope": "subscriptions/{sub}/resourceGroups/testrg/providers/Microsoft.Storage/"
            "storageAccounts/testdbaccount"
        },
        patch=_set(
            "properties.roleDefinitionId",
            contributor_id,
        ),
        why="the scope, a Cosmos DB account (not emulated), becomes our storage account testdbaccount; the "
        "role 0b5fe924-… becomes Contributor.",
    ),
    "authorization/RoleAssignments_Get.json": Case(
        "GET",
        "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        (authz_assignment("/subscriptions/{sub}", "b0f43c54-e787-4862-89b1-a653fa9cf747"),),
        why="made first with Contributor instead of role 0b5fe924-…",
    ),
    "authorization/RoleAssignments_ListForScope.json": Case(
        "GET",
        "/{scope}/providers/Microsoft.Authorization/roleAssignments",
        (authz_assignment("/subscriptions/{sub}", "b0f43c54-e787-4862-89b1-a653fa9cf747"),),
        why="made first with Contributor instead of role 0b5fe924-…",
    ),
    "authorization/RoleAssignments_ListForResource.json": Case(
        "GET",
        RG
        + "/providers/{resourceProviderNamespace}/{resourceType}/{resourceName}"
        + "/providers/Microsoft.Authorization/roleAssignments",
        (
            authz_assignment(
                "/subscriptions/{sub}/resourceGroups/testrg/providers/Microsoft.Storage/storageAccounts/testdbaccount",
                "05c5a614-a7d6-4502-b150-c2fb455033ff",
            ),
        ),
        params={
            "resourceProviderNamespace": "Microsoft.Storage",
            "resourceType": "storageAccounts",
            "resourceName": "testdbaccount",
        },
        why="the Cosmos DB account (not emulated) becomes our storage account testdbaccount; role Contributor.",
    ),
    # ---- Site Recovery -------------------------------------------------------------------------
    "siterecovery/ReplicationAppliances_List.json": Case(
        "GET",
        SR_V + "/replicationAppliances",
        (registered_appliance,),
        why="an InMageRcm appliance of the sandbox's scenario (appliance1) is registered with the vault first.",
    ),
    "siterecovery/ReplicationFabrics_Get.json": Case(
        "GET", SR_V + "/replicationFabrics/{fabricName}", (hyperv_site,), why=_HV_WHY
    ),
    "siterecovery/ReplicationFabrics_List.json": Case("GET", SR_V + "/replicationFabrics", (hyperv_site,), why=_HV_WHY),
    "siterecovery/ReplicationProtectionContainers_Get.json": Case("GET", SR_C, (hyperv_site,), why=_HV_WHY),
    "siterecovery/ReplicationProtectionContainers_List.json": Case(
        "GET",
        SR_V + "/replicationProtectionContainers",
        (hyperv_site,),
        why=_HV_WHY + " The vault-wide list example spells the container type without replicationFabrics; its "
        "per-fabric list and get spell it in full, as the sandbox does everywhere.",
        data=("value[].type",),
    ),
    "siterecovery/ReplicationProtectionContainers_ListByReplicationFabrics.json": Case(
        "GET", SR_F + "/replicationProtectionContainers", (hyperv_site,), why=_HV_WHY
    ),
    "siterecovery/ReplicationRecoveryServicesProviders_List.json": Case(
        "GET", SR_V + "/replicationRecoveryServicesProviders", (hyperv_site,), why=_HV_WHY
    ),
    "siterecovery/ReplicationRecoveryServicesProviders_ListByReplicationFabrics.json": Case(
        "GET", SR_F + "/replicationRecoveryServicesProviders", (hyperv_site,), why=_HV_WHY
    ),
    "siterecovery/ReplicationPolicies_Get.json": Case(
        "GET", SR_V + "/replicationPolicies/{policyName}", (hyperv_site,), why=_HV_WHY
    ),
    "siterecovery/ReplicationProtectableItems_Get.json": Case(
        "GET", SR_C + "/replicationProtectableItems/{protectableItemName}", (hyperv_site,), why=_HV_WHY
    ),
    "siterecovery/ReplicationProtectableItems_ListByReplicationProtectionContainers.json": Case(
        "GET",
        SR_C + "/replicationProtectableItems",
        (hyperv_site,),
        why=_HV_WHY,
        skip={"nextLink": "the site's two VMs fit in one page (lists page at 100)"},
    ),
    "siterecovery/ReplicationProtectedItems_Create.json": Case("PUT", SR_I, (hyperv_site,), body="input", why=_HV_WHY),
    "siterecovery/ReplicationProtectedItems_Get.json": Case("GET", SR_I, (hyperv_item(HV_VM1),), why=_HV_WHY),
    "siterecovery/ReplicationProtectedItems_ListByReplicationProtectionContainers.json": Case(
        "GET", SR_C + "/replicationProtectedItems", (hyperv_item(HV_VM1),), why=_HV_WHY
    ),
    "siterecovery/ReplicationProtectedItems_Update.json": Case(
        "PATCH", SR_I, (hyperv_item(HV_VM1),), body="updateProtectionInput", why=_HV_WHY
    ),
    "siterecovery/ReplicationProtectedItems_TestFailover.json": Case(
        "POST", SR_I + "/testFailover", (hyperv_item(HV_VM1),), body="testfailoverInput", why=_HV_WHY
    ),
    "siterecovery/ReplicationProtectedItems_TestFailoverCleanup.json": Case(
        "POST",
        SR_I + "/testFailoverCleanup",
        (hyperv_item(HV_VM1, "test_failover"),),
        body="cleanupInput",
        why=_HV_WHY + " Its test failover is done first.",
    ),
    "siterecovery/ReplicationProtectedItems_UnplannedFailover.json": Case(
        "POST",
        SR_I + "/unplannedFailover",
        (hyperv_item(HV_VM1, "test_failover", "cleanup"),),
        body="failoverInput",
        why=_HV_WHY + " A test failover and its cleanup come first, as in the example's history.",
    ),
    "siterecovery/ReplicationProtectedItems_FailoverCommit.json": Case(
        "POST",
        SR_I + "/failoverCommit",
        (hyperv_item(HV_VM1, "test_failover", "cleanup", "failover"),),
        why=_HV_WHY + " The item is failed over first.",
    ),
    "siterecovery/ReplicationProtectedItems_RepairReplication.json": Case(
        "POST",
        SR_I + "/repairReplication",
        (hyperv_item(HV_VM1, "resync"),),
        why=_HV_WHY + " The admin API marks the item resyncRequired, as Site Recovery does when replication breaks.",
    ),
    "siterecovery/ReplicationProtectedItems_Delete.json": Case(
        "POST", SR_I + "/remove", (hyperv_item(HV_VM2),), body="disableProtectionInput", why=_HV_WHY
    ),
    "siterecovery/ReplicationProtectedItems_Purge.json": Case(
        "DELETE", SR_I, (hyperv_item(HV_VM2),), why=_HV_WHY, gone_after=True
    ),
    "siterecovery/ReplicationJobs_List.json": Case(
        "GET", SR_V + "/replicationJobs", (hyperv_item(HV_VM1),), why=_HV_WHY
    ),
    "siterecovery/ReplicationJobs_Get.json": Case(
        "GET",
        SR_V + "/replicationJobs/{jobName}",
        (hyperv_item(HV_VM1),),
        why=_HV_WHY + " The job is the enable job of vm1 (the example's job name is a placeholder).",
    ),
    "siterecovery/ReplicationJobs_Cancel.json": Case(
        "POST",
        SR_V + "/replicationJobs/{jobName}/cancel",
        (running_job,),
        why=_HV_WHY + " The job is a test failover of vm1 kept running by a latency rule.",
    ),
    "siterecovery/ReplicationJobs_Restart.json": Case(
        "POST",
        SR_V + "/replicationJobs/{jobName}/restart",
        (hyperv_item(HV_VM1, target_group="rg-missing"),),
        why=_HV_WHY + " The job is vm1's enable job, failed because its target resource group does not exist.",
    ),
    "siterecovery/ReplicationMigrationItems_Create.json": Case(
        "PUT", SR_C + "/replicationMigrationItems/{migrationItemName}", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_Delete.json": Case(
        "DELETE", SR_C + "/replicationMigrationItems/{migrationItemName}", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_Get.json": Case(
        "GET", SR_C + "/replicationMigrationItems/{migrationItemName}", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_List.json": Case(
        "GET", SR_V + "/replicationMigrationItems", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_ListByReplicationProtectionContainers.json": Case(
        "GET", SR_C + "/replicationMigrationItems", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_Migrate.json": Case(
        "POST", SR_C + "/replicationMigrationItems/{migrationItemName}" + "/migrate", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_Resync.json": Case(
        "POST", SR_C + "/replicationMigrationItems/{migrationItemName}" + "/resync", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_TestMigrate.json": Case(
        "POST", SR_C + "/replicationMigrationItems/{migrationItemName}" + "/testMigrate", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_TestMigrateCleanup.json": Case(
        "POST", SR_C + "/replicationMigrationItems/{migrationItemName}" + "/testMigrateCleanup", xfail=_VMWARE_CBT
    ),
    "siterecovery/ReplicationMigrationItems_Update.json": Case(
        "PATCH", SR_C + "/replicationMigrationItems/{migrationItemName}", xfail=_VMWARE_CBT
    ),
}


# -- the replay ------------------------------------------------------------------------------------
def _example_files() -> list[str]:
    return sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.json"))


def _subscription_of(params: dict[str, Any]) -> str:
    sub = params.get("subscriptionId")
    if sub is None:
        found = re.search(r"subscriptions/([^/]+)", str(params.get("scope", "")))
        sub = found.group(1) if found else ZERO_SUB
    return ZERO_SUB if sub == "{subscription-id}" else sub


def _fill(template: str, params: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        text = str(params[match.group(1)])
        # Scopes are paths themselves; every other parameter is one segment.
        return text.strip("/") if match.group(1) in {"scope", "roleId"} else urllib.request.quote(text, safe="")

    return re.sub(r"\{(\w+)\}", value, template)


def test_every_example_file_has_a_case() -> None:
    assert set(CASES) == set(_example_files())


@pytest.fixture
def sandbox_for() -> Iterator[Callable[[str], Sandbox]]:
    started: list[Sandbox] = []

    def start(subscription_id: str) -> Sandbox:
        scenario = Scenario.model_validate(
            {
                "subscription_id": subscription_id,
                "throttling": {"enabled": False},
                "identity": {"principal_not_found_seconds": 0},
                # Site Recovery: an appliance to register, and jobs that end at once (prerequisites
                # advance the clock past initial replication).
                "appliances": [
                    {"name": "appliance1", "resource_group": "resourceGroupPS1", "machines": [{"name": "vm1"}]}
                ],
                "site_recovery": {
                    "enable_seconds": 0,
                    "initial_replication_seconds": 1,
                    "test_failover_seconds": 0,
                    "test_failover_cleanup_seconds": 0,
                    "failover_seconds": 0,
                    "commit_seconds": 0,
                    "disable_seconds": 0,
                    "update_seconds": 0,
                    "repair_seconds": 0,
                },
            }
        )
        box = Sandbox(scenario)
        box.start()
        started.append(box)
        return box

    yield start
    for box in started:
        box.stop()


def _cases() -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=c.xfail, strict=True)) if c.xfail else name
        for name, c in CASES.items()
    ]


@pytest.mark.parametrize("name", _cases())
def test_example_replays(name: str, sandbox_for: Callable[[str], Sandbox]) -> None:
    case = CASES[name]
    example = json.loads((EXAMPLES / name).read_text())
    params: dict[str, Any] = dict(example["parameters"])
    box = sandbox_for(_subscription_of(params))
    api = Api(box)
    params["subscriptionId"] = api.sub
    for prereq in case.prereqs:
        params.update(prereq(api))
    params.update({k: v.format(sub=api.sub) for k, v in case.params.items()})
    body = None
    if case.body is not None:
        body = copy.deepcopy(params[case.body])
        if case.patch is not None:
            body = case.patch(body, api)
    url = api.url(_fill(case.template, params), params["api-version"])

    status, headers, answer = api.send(case.method, url, body)
    responses = example["responses"]
    assert str(status) in responses, f"{case.method} answered {status} {answer}; the example lists {list(responses)}"
    skip, data = frozenset(case.skip), frozenset(case.data)
    problems: list[str] = []
    expected_first = None if str(status) in case.quirks else responses[str(status)].get("body")
    if expected_first is not None and answer is not None:
        lro = status in (201, 202)
        problems += [
            f"first answer {status}: {p}"
            for p in shape_mismatches(expected_first, answer, skip=skip, data=data, in_flight=lro)
        ]
    elif expected_first is not None:
        problems.append(f"first answer {status}: no body, the example has one")

    final_status, final = api.finish(case.method, url, status, headers, answer)
    if case.method in {"PUT", "PATCH"} and (final_status, final) != (status, answer):
        # After the LRO: the resource as the final GET shows it, against the example's finished body.
        done = next((responses[s]["body"] for s in ("200", "201") if responses.get(s, {}).get("body")), None)
        assert final_status == 200, f"final GET answered {final_status} {final}"
        if done is not None:
            problems += [f"after the LRO: {p}" for p in shape_mismatches(done, final, skip=skip, data=data)]
    if case.gone_after:
        gone_status, _, gone = api.send("GET", url)
        assert gone_status == 404, f"still there after DELETE: {gone_status} {gone}"
        again_status, _, again = api.send("DELETE", url)
        assert again_status in (200, 204), f"deleting what is gone answered {again_status} {again}"
    assert not problems, f"{name} ({case.why or 'no substitution'}):\n  " + "\n  ".join(problems)
