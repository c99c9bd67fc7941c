"""Microsoft.Network in the sandbox: virtual networks, subnets, private endpoints (with their network
interfaces) and private endpoints' private DNS zone groups.

What it emulates, as ARM does it:
- Address spaces are honoured: every subnet lies inside the VNet's address space and subnets do not
  overlap (`NetcfgSubnetRangeOutsideVnet`, `NetcfgSubnetRangesOverlap`).
- A private endpoint takes the next free IP of its subnet (Azure reserves the first four addresses
  and the last one) per private link member, and keeps them for its life; it owns a network
  interface `{endpoint}.nic.{guid}`, get-able like any NIC.
- Its connections are recorded on the target through `connections.attach`, so the target's owner
  (admin API) and the target's own provider see the same record. `privateLinkServiceConnections`
  are approved automatically when plmigrate's principal may approve on the target (per scenario),
  else refused with 403 `LinkedAuthorizationFailed`; `manualPrivateLinkServiceConnections` always
  wait for the owner.
- An existing endpoint keeps its location, subnet and each connection's group IDs.
- Targets: storage accounts (group `blob`, and the other storage services) and Recovery Services
  vaults (group `AzureSiteRecovery`, one FQDN per Site Recovery member).
- A zone group writes an A record per FQDN of its endpoint into the zone whose public name is the
  FQDN's suffix, and removes them when it (or its endpoint) goes.

Subnets are stored as child resources (`{vnet}/subnets/{name}`) and mirrored into the VNet's
`properties.subnets` after every change, so a GET of either shows the same thing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid
from typing import Any

from plmigrate.regions import geo_code
from plmigrate.sandbox import connections, lro
from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router, bad_request, paged, parse_resource_id
from plmigrate.sandbox.providers import privatedns
from plmigrate.sandbox.providers.resources import require_group
from plmigrate.sandbox.world import World, key

# Microsoft.Network's stable versions from the REST specs (Network/stable/...); 2026-03-01 is
# azure-mgmt-network 33.1.0's default, 2025-05-01 the official examples', 2024-05-01 the raw VNet
# read in tasks/replication.py. Subnets, zone groups and connections are served at their parents'.
_NETWORK = served(
    "2023-09-01",
    "2023-11-01",
    "2024-01-01",
    "2024-03-01",
    "2024-05-01",
    "2024-07-01",
    "2024-10-01",
    "2025-01-01",
    "2025-03-01",
    "2025-05-01",
    "2025-07-01",
    "2025-09-01",
    "2026-03-01",
)
API_VERSIONS: dict[str, Served] = {
    "Microsoft.Network/virtualNetworks": _NETWORK,
    "Microsoft.Network/privateEndpoints": _NETWORK,
    "Microsoft.Network/networkInterfaces": _NETWORK,
}


RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network"
VNETS = RG + "/virtualNetworks"
VNET = VNETS + "/{virtualNetworkName}"
SUBNETS = VNET + "/subnets"
SUBNET = SUBNETS + "/{subnetName}"
ENDPOINTS = RG + "/privateEndpoints"
ENDPOINT = ENDPOINTS + "/{privateEndpointName}"
ZONE_GROUPS = ENDPOINT + "/privateDnsZoneGroups"
ZONE_GROUP = ZONE_GROUPS + "/{privateDnsZoneGroupName}"
NICS = RG + "/networkInterfaces"
NIC = NICS + "/{networkInterfaceName}"

VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"
ZONE_GROUP_TYPE = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
NIC_TYPE = "Microsoft.Network/networkInterfaces"
STORAGE_TYPE = "microsoft.storage/storageaccounts"
VAULT_TYPE = "microsoft.recoveryservices/vaults"

# Storage sub-resources the sandbox can give an FQDN for: group ID -> service label in the host name.
STORAGE_GROUPS = {"blob": "blob", "file": "file", "queue": "queue", "table": "table", "dfs": "dfs"}
SITE_RECOVERY_GROUP = "AzureSiteRecovery"
# Site Recovery's private link members, in the order Azure lists them.
SITE_RECOVERY_MEMBERS = ("rcm1", "prot2", "prot2b", "tel1", "srs1", "id1")
MAX_ZONES_PER_GROUP = 5
A_RECORD_TTL = 10


# -- shared helpers ------------------------------------------------------------------------------
def _vnet_of(subnet_id: str) -> str:
    """The VNet ID of a subnet ID (`.../virtualNetworks/{vnet}/subnets/{subnet}`), in any casing."""
    return re.split(r"/subnets/", subnet_id, maxsplit=1, flags=re.IGNORECASE)[0]


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _scope(req: ArmRequest) -> str:
    return f"/subscriptions/{req.params['subscriptionId']}/resourceGroups/{req.params['resourceGroupName']}"


def _rid(req: ArmRequest, kind: str, *names: str) -> str:
    """`{scope}/providers/Microsoft.Network/{kind}/{name}[/{child-kind}/{child-name}...]`."""
    return f"{_scope(req)}/providers/Microsoft.Network/{kind}/" + "/".join(names)


def _in_group(resource: dict[str, Any], req: ArmRequest) -> bool:
    parsed = parse_resource_id(resource["id"])
    return parsed.get("resourceGroup", "").lower() == req.params["resourceGroupName"].lower()


def _network(prefix: Any, where: str) -> ipaddress.IPv4Network:
    """Parse a CIDR prefix as ARM does: host bits set is `InvalidCIDRNotation`, not silently fixed."""
    if not isinstance(prefix, str):
        raise bad_request("InvalidAddressPrefixFormat", f"Address prefix {prefix!r} of {where} is not a CIDR prefix.")
    try:
        return ipaddress.IPv4Network(prefix, strict=True)
    except ValueError as exc:
        try:
            fixed = ipaddress.IPv4Network(prefix, strict=False)
        except ValueError:
            raise bad_request(
                "InvalidAddressPrefixFormat", f"Address prefix {prefix} of {where} is not a valid IPv4 CIDR prefix."
            ) from exc
        raise bad_request(
            "InvalidCIDRNotation",
            f"The address prefix {prefix} in resource {where} has an invalid CIDR notation. For the given prefix "
            f"length, the address prefix should be {fixed}.",
        ) from exc


def _subnet_prefixes(props: dict[str, Any], where: str) -> list[ipaddress.IPv4Network]:
    raw = list(props.get("addressPrefixes") or [])
    if props.get("addressPrefix"):
        raw.insert(0, props["addressPrefix"])
    if not raw:
        raise bad_request(
            "NetcfgInvalidSubnet", f"Subnet {where} is not valid: it needs an addressPrefix or addressPrefixes."
        )
    return [_network(p, where) for p in dict.fromkeys(raw)]


# -- virtual networks and subnets ----------------------------------------------------------------
def _validate_layout(vnet_name: str, space: list[ipaddress.IPv4Network], subnets: list[tuple[str, list]]) -> None:
    """Every subnet inside the address space, no two subnets overlapping (ARM's own checks)."""
    for name, prefixes in subnets:
        for prefix in prefixes:
            if not any(prefix.subnet_of(block) for block in space):
                raise bad_request(
                    "NetcfgSubnetRangeOutsideVnet",
                    f"Subnet '{name}' is not valid because its IP address range is outside the IP address range "
                    f"of virtual network '{vnet_name}'.",
                )
    for i, (name, prefixes) in enumerate(subnets):
        for other_name, other_prefixes in subnets[i + 1 :]:
            if any(a.overlaps(b) for a in prefixes for b in other_prefixes):
                raise bad_request(
                    "NetcfgSubnetRangesOverlap",
                    f"Subnet '{other_name}' is not valid because its IP address range overlaps with that of an "
                    f"existing subnet '{name}' in virtual network '{vnet_name}'.",
                )


def _vnet_space(vnet: dict[str, Any]) -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(p) for p in vnet["properties"]["addressSpace"]["addressPrefixes"]]


def _nic_configs_in(world: World, subnet_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(NIC, ipConfiguration) pairs placed in a subnet."""
    found = []
    for nic in world.by_type(NIC_TYPE):
        for config in nic["properties"].get("ipConfigurations", []):
            if key(config["properties"].get("subnet", {}).get("id", "")) == key(subnet_id):
                found.append((nic, config))
    return found


def _subnet_body(subnet_id: str, name: str, props: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in props.items() if k not in {"provisioningState", "privateEndpoints", "ipConfigurations"}}
    kept.setdefault("privateEndpointNetworkPolicies", "Disabled")
    kept.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
    return {
        "id": subnet_id,
        "name": name,
        "type": SUBNET_TYPE,
        "etag": _etag(),
        "properties": {**kept, "provisioningState": "Succeeded"},
    }


def sync_vnet(world: World, vnet_id: str) -> None:
    """Refresh the derived parts of a VNet's subnets (what sits in them) and mirror the subnets into
    the VNet's `properties.subnets`."""
    with world.lock:
        vnet = world.get(vnet_id)
        if vnet is None:
            return
        subnets = []
        for subnet in world.children(vnet["id"], "subnets"):
            props = subnet["properties"]
            props.pop("privateEndpoints", None)
            props.pop("ipConfigurations", None)
            placed = _nic_configs_in(world, subnet["id"])
            if placed:
                props["ipConfigurations"] = [{"id": config["id"]} for _, config in placed]
                endpoints = dict.fromkeys(
                    nic["properties"]["privateEndpoint"]["id"]
                    for nic, _ in placed
                    if nic["properties"].get("privateEndpoint")
                )
                if endpoints:
                    props["privateEndpoints"] = [{"id": e} for e in endpoints]
            world.put(subnet)
            subnets.append(subnet)
        vnet["properties"]["subnets"] = subnets
        world.put(vnet)


def _put_subnets(world: World, vnet_id: str, wanted: list[dict[str, Any]]) -> None:
    """Make the VNet's subnets exactly `wanted` (a VNet PUT replaces its subnet list, as in ARM)."""
    existing = {key(s["id"]): s for s in world.children(vnet_id, "subnets")}
    keep: set[str] = set()
    for sub in wanted:
        subnet_id = f"{vnet_id}/subnets/{sub['name']}"
        old = existing.get(key(subnet_id))
        name = old["name"] if old else sub["name"]
        if old is not None:
            subnet_id = old["id"]
        keep.add(key(subnet_id))
        world.put(_subnet_body(subnet_id, name, sub.get("properties") or {}))
    for k, old in existing.items():
        if k not in keep:
            world.delete(old["id"])


def _check_subnet_changes(world: World, vnet_id: str, wanted: dict[str, list]) -> None:
    """A subnet with endpoints in it may be neither removed nor re-addressed."""
    for subnet in world.children(vnet_id, "subnets"):
        if not _nic_configs_in(world, subnet["id"]):
            continue
        new = wanted.get(subnet["name"].lower())
        if new is None:
            raise bad_request(
                "InUseSubnetCannotBeDeleted",
                f"Subnet {subnet['name']} is in use by private endpoint network interfaces and cannot be deleted. "
                "Delete the private endpoints first.",
            )
        old = _subnet_prefixes(subnet["properties"], subnet["id"])
        if sorted(map(str, old)) != sorted(map(str, new)):
            raise bad_request(
                "InUseSubnetCannotBeUpdated",
                f"Subnet {subnet['name']} is in use and its address prefix cannot be changed.",
            )


def put_vnet(req: ArmRequest) -> ArmResponse:
    require_group(req)
    body = req.json_body()
    vnet_id = _rid(req, "virtualNetworks", req.params["virtualNetworkName"])
    with req.world.lock:
        existing = req.world.get(vnet_id)
        lro.refuse_if_busy(req, vnet_id)
        location = body.get("location") or (existing or {}).get("location")
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        props = dict(body.get("properties") or {})
        prefixes = (props.get("addressSpace") or {}).get("addressPrefixes") or []
        if not prefixes:
            raise bad_request(
                "InvalidAddressSpace",
                f"Virtual network {req.params['virtualNetworkName']} must have at least one address prefix in "
                "addressSpace.addressPrefixes.",
            )
        space = [_network(p, vnet_id) for p in prefixes]
        wanted = list(props.get("subnets") or [])
        layout = []
        for sub in wanted:
            if not sub.get("name"):
                raise bad_request("InvalidRequestFormat", "Every subnet in properties.subnets needs a name.")
            layout.append(
                (sub["name"], _subnet_prefixes(sub.get("properties") or {}, f"{vnet_id}/subnets/{sub['name']}"))
            )
        name = existing["name"] if existing else req.params["virtualNetworkName"]
        _validate_layout(name, space, layout)
        if existing is not None:
            vnet_id = existing["id"]
            if key(location.replace(" ", "")) != key(existing["location"]):
                raise bad_request(
                    "InvalidResourceLocation",
                    f"The resource '{name}' already exists in location '{existing['location']}'. A resource with the "
                    "same name cannot be created in another location.",
                )
            _check_subnet_changes(req.world, vnet_id, {n.lower(): p for n, p in layout})
        props.pop("subnets", None)
        props.pop("provisioningState", None)
        props.setdefault("virtualNetworkPeerings", [])
        props.setdefault("enableDdosProtection", False)
        if existing is None:
            props["resourceGuid"] = req.world.new_guid()
        else:
            props["resourceGuid"] = existing["properties"].get("resourceGuid", req.world.new_guid())
        vnet = {
            "id": vnet_id,
            "name": name,
            "type": VNET_TYPE,
            "location": (existing or {}).get("location") or location.replace(" ", "").lower(),
            "etag": _etag(),
            "properties": {**props, "provisioningState": "Succeeded", "subnets": []},
        }
        if body.get("tags"):
            vnet["tags"] = body["tags"]
        req.world.put(vnet)
        _put_subnets(req.world, vnet_id, wanted)
        sync_vnet(req.world, vnet_id)
        stored = req.world.get(vnet_id)
    return lro.accepted(req, 200 if existing else 201, stored, resource_id=vnet_id, in_progress="Updating")


def get_vnet(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, req.world.require(_rid(req, "virtualNetworks", req.params["virtualNetworkName"])))


def list_vnets(req: ArmRequest) -> ArmResponse:
    require_group(req)
    return paged(req, [v for v in req.world.by_type(VNET_TYPE, _scope(req)) if _in_group(v, req)])


def list_all_vnets(req: ArmRequest) -> ArmResponse:
    """VirtualNetworks_ListAll: every VNet of the subscription, whatever its resource group."""
    return paged(req, req.world.by_type(VNET_TYPE, f"/subscriptions/{req.params['subscriptionId']}/"))


def put_subnet(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    vnet_id = _rid(req, "virtualNetworks", req.params["virtualNetworkName"])
    with req.world.lock:
        vnet = req.world.require(vnet_id)
        subnet_id = f"{vnet['id']}/subnets/{req.params['subnetName']}"
        existing = req.world.get(subnet_id)
        lro.refuse_if_busy(req, subnet_id)
        lro.refuse_if_busy(req, vnet["id"])  # a subnet write updates its VNet
        name = existing["name"] if existing else req.params["subnetName"]
        props = dict(body.get("properties") or {})
        prefixes = _subnet_prefixes(props, subnet_id)
        layout = [
            (s["name"], _subnet_prefixes(s["properties"], s["id"]))
            for s in req.world.children(vnet["id"], "subnets")
            if key(s["id"]) != key(subnet_id)
        ]
        _validate_layout(vnet["name"], _vnet_space(vnet), [*layout, (name, prefixes)])
        if existing is not None:
            subnet_id = existing["id"]
            if _nic_configs_in(req.world, subnet_id):
                old = _subnet_prefixes(existing["properties"], subnet_id)
                if sorted(map(str, old)) != sorted(map(str, prefixes)):
                    raise bad_request(
                        "InUseSubnetCannotBeUpdated",
                        f"Subnet {name} is in use and its address prefix cannot be changed.",
                    )
        req.world.put(_subnet_body(subnet_id, name, props))
        sync_vnet(req.world, vnet["id"])
        stored = req.world.get(subnet_id)
    return lro.accepted(req, 200 if existing else 201, stored, resource_id=subnet_id, in_progress="Updating")


def get_subnet(req: ArmRequest) -> ArmResponse:
    vnet_id = _rid(req, "virtualNetworks", req.params["virtualNetworkName"])
    req.world.require(vnet_id)
    return ArmResponse(200, req.world.require(f"{vnet_id}/subnets/{req.params['subnetName']}"))


def list_subnets(req: ArmRequest) -> ArmResponse:
    vnet = req.world.require(_rid(req, "virtualNetworks", req.params["virtualNetworkName"]))
    return paged(req, req.world.children(vnet["id"], "subnets"))


# -- private endpoints ---------------------------------------------------------------------------
def numeric_vault_id(world: World, vault_id: str) -> str:
    """The vault's numeric ID (Recovery Services sets it when it makes a vault); made
    deterministically from the vault ID and remembered when a vault was put in another way."""
    meta = world.meta_of(vault_id)
    if not meta.get("numeric_id"):
        digest = hashlib.sha256(key(vault_id).encode()).hexdigest()
        meta["numeric_id"] = str(int(digest[:15], 16))
    return str(meta["numeric_id"])


def _invalid_group(target: dict[str, Any], group_ids: list[str], valid: list[str]) -> ArmError:
    return bad_request(
        "InvalidValuesForRequestParameters",
        f"Call to {target['type']} failed. Error message: Values for request parameters are invalid: "
        f"GroupId: {', '.join(group_ids) or '(none)'}. Valid group IDs for '{target['name']}': {', '.join(valid)}.",
    )


def _members(world: World, target: dict[str, Any], group_ids: list[str], connection_id: str) -> list[dict[str, str]]:
    """The private link members a connection brings: groupId, memberName, fqdn (one IP each)."""
    rtype = target["type"].lower()
    if len(group_ids) > 1:
        raise bad_request(
            "OnlyOneGroupIdPermitted",
            f"Private link service connection {connection_id} has the following group Ids: {', '.join(group_ids)}. "
            f"Only one group Id is permitted when connecting to a first-party resource ({target['id']}).",
        )
    if rtype == STORAGE_TYPE:
        if len(group_ids) != 1 or group_ids[0].lower() not in STORAGE_GROUPS:
            raise _invalid_group(target, group_ids, list(STORAGE_GROUPS))
        group = group_ids[0].lower()
        fqdn = f"{target['name'].lower()}.{STORAGE_GROUPS[group]}.core.windows.net"
        return [{"groupId": group, "memberName": group, "fqdn": fqdn}]
    if rtype == VAULT_TYPE:
        if len(group_ids) != 1 or group_ids[0].lower() != SITE_RECOVERY_GROUP.lower():
            raise _invalid_group(target, group_ids, [SITE_RECOVERY_GROUP])
        identity_type = str((target.get("identity") or {}).get("type") or "")
        if "systemassigned" not in identity_type.lower():
            raise bad_request(
                "BadRequest",
                f"Call to {target['type']} failed. Error message: Vault '{target['name']}' has no system-assigned "
                "managed identity. Enable it on the vault before creating a private endpoint for Site Recovery.",
            )
        try:
            geo = geo_code(target.get("location", ""))
        except KeyError:
            raise bad_request(
                "LocationNotAvailableForResourceType",
                f"Site Recovery private endpoints are not available for vaults in '{target.get('location')}'.",
            ) from None
        numeric = numeric_vault_id(world, target["id"])
        return [
            {
                "groupId": SITE_RECOVERY_GROUP,
                "memberName": f"SiteRecovery-{member}",
                "fqdn": f"{numeric}-asr-pod01-{member}.{geo}.siterecovery.windowsazure.com",
            }
            for member in SITE_RECOVERY_MEMBERS
        ]
    raise bad_request(
        "PrivateLinkServiceNotSupported",
        f"The sandbox does not emulate private endpoints to resources of type '{target['type']}' ({target['id']}); "
        "it serves Microsoft.Storage/storageAccounts and Microsoft.RecoveryServices/vaults.",
    )


def _may_approve(world: World, target: dict[str, Any]) -> bool:
    if target["type"].lower() == STORAGE_TYPE:
        return bool(world.meta_of(target["id"]).get("principal_may_approve", True))
    return True


def _target_connection_name(world: World, target: dict[str, Any], endpoint_name: str) -> str:
    guid = world.new_guid()
    if target["type"].lower() == VAULT_TYPE:
        # Site Recovery names it `{endpoint}.{numericVaultId}.siterecovery.{guid}`: the numeric vault
        # ID (the first label of the ASR FQDNs) is its second dot-separated part.
        return f"{endpoint_name}.{numeric_vault_id(world, target['id'])}.siterecovery.{guid}"
    return f"{endpoint_name}.{guid}"


def _usable_hosts(prefixes: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Address]:
    """Azure reserves the first four addresses of a subnet and its broadcast address."""
    hosts: list[ipaddress.IPv4Address] = []
    for net in prefixes:
        first, last = int(net.network_address) + 4, int(net.broadcast_address) - 1
        hosts.extend(ipaddress.IPv4Address(i) for i in range(first, last + 1))
    return hosts


class _Allocator:
    """Hands out free IPs of one subnet, never one another NIC (or this call) already holds."""

    def __init__(self, world: World, subnet: dict[str, Any], own_nic_id: str | None) -> None:
        self.subnet = subnet
        self.prefixes = _subnet_prefixes(subnet["properties"], subnet["id"])
        self.used = {
            config["properties"]["privateIPAddress"]
            for nic, config in _nic_configs_in(world, subnet["id"])
            if own_nic_id is None or key(nic["id"]) != key(own_nic_id)
        }

    def take(self, wanted: str | None = None) -> str:
        if wanted:
            try:
                address = ipaddress.IPv4Address(wanted)
            except ValueError:
                raise bad_request("InvalidPrivateIPAddress", f"Private IP address {wanted!r} is not valid.") from None
            if address not in _usable_hosts(self.prefixes):
                raise bad_request(
                    "PrivateIPAddressNotInSubnet",
                    f"Private static IP address {wanted} does not belong to the range of subnet "
                    f"{self.subnet['id']} ({', '.join(map(str, self.prefixes))}).",
                )
            if wanted in self.used:
                raise bad_request(
                    "PrivateIPAddressInUse",
                    f"IP configuration is using the private IP address {wanted} "
                    f"which is already allocated to another resource in subnet {self.subnet['id']}.",
                )
            self.used.add(wanted)
            return wanted
        for address in _usable_hosts(self.prefixes):
            if str(address) not in self.used:
                self.used.add(str(address))
                return str(address)
        raise bad_request(
            "SubnetIsFull",
            f"Subnet {self.subnet['name']} with address prefix {', '.join(map(str, self.prefixes))} does not have "
            "enough capacity for 1 IP addresses.",
        )


def free_ip(world: World, subnet_id: str) -> str:
    """A free private IP of a subnet (for NICs other providers make, e.g. failed-over VMs)."""
    subnet = world.require(subnet_id)
    return _Allocator(world, subnet, None).take()


def _resolve_subnet(req: ArmRequest, props: dict[str, Any], endpoint_id: str, location: str) -> dict[str, Any]:
    subnet_ref = (props.get("subnet") or {}).get("id")
    if not subnet_ref:
        raise bad_request("InvalidRequestFormat", "A private endpoint needs a subnet: set properties.subnet.id.")
    subnet = req.world.get(subnet_ref)
    vnet = req.world.get(_vnet_of(subnet_ref)) if subnet else None
    if subnet is None or vnet is None or key(vnet["location"]) != key(location):
        raise ArmError(
            400,
            "InvalidResourceReference",
            f"Resource {subnet_ref} referenced by resource {endpoint_id} was not found. Please make sure that the "
            "referenced resource exists, and that both resources are in the same region.",
        )
    return subnet


def _wanted_connections(props: dict[str, Any], endpoint_name: str) -> list[tuple[str, dict[str, Any]]]:
    """(list name, requested connection) for every connection in the body."""
    wanted = []
    for list_name in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        for conn in props.get(list_name) or []:
            wanted.append((list_name, conn))
    if not wanted:
        raise bad_request(
            "InvalidRequestFormat",
            f"Private endpoint {endpoint_name} needs one privateLinkServiceConnections or "
            "manualPrivateLinkServiceConnections entry.",
        )
    return wanted


def _check_connection_change(
    req: ArmRequest,
    existing: dict[str, Any] | None,
    list_name: str,
    conn_name: str,
    target: dict[str, Any],
    group_ids: list[str],
    links: dict[str, dict[str, Any]],
) -> None:
    """What ARM refuses about one requested connection, before anything is written.

    A connection the endpoint already has keeps its group IDs. A new automatic connection needs
    the caller to hold `privateEndpointConnectionsApproval/action` on the target: without it ARM
    answers 403 `LinkedAuthorizationFailed` (worded as ARM words it), and the caller must ask for
    a manual connection instead."""
    endpoint_id = existing["id"] if existing else _rid(req, "privateEndpoints", req.params["privateEndpointName"])
    if key(target["id"]) in links:
        for old_list in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
            for old in (existing or {}).get("properties", {}).get(old_list) or []:
                old_props = old.get("properties") or {}
                if key(old_props.get("privateLinkServiceId", "")) != key(target["id"]):
                    continue
                if sorted(g.lower() for g in old_props.get("groupIds") or []) != sorted(g.lower() for g in group_ids):
                    raise bad_request(
                        "CannotChangeGroupIdsOnExistingPrivateEndpoint",
                        f"Private link service connection {endpoint_id}/{list_name}/{conn_name} has group IDs "
                        f"{', '.join(old_props.get('groupIds') or [])}; the group IDs of an existing private "
                        f"endpoint cannot be changed to {', '.join(group_ids) or '(none)'}. Delete the private "
                        "endpoint and create it again.",
                    )
        return
    if list_name == "privateLinkServiceConnections" and not _may_approve(req.world, target):
        principal = req.principal_id
        raise ArmError(
            403,
            "LinkedAuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' has permission to perform action "
            f"'Microsoft.Network/privateEndpoints/write' on scope '{endpoint_id}'; however, it does not have "
            f"permission to perform action 'PrivateEndpointConnectionsApproval/action' on the linked scope(s) "
            f"'{target['id']}' or the linked scope(s) are invalid.",
        )


def _check_connections_unchanged(existing: dict[str, Any] | None, props: dict[str, Any], name: str) -> None:
    """Azure does not re-target an endpoint: a PUT whose connections differ from the existing
    endpoint's by name or target is refused (docs/sandbox.md); a change of group IDs on the same
    target is `_check_connection_change`'s."""
    if existing is None:
        return

    def shape(p: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (
                (c.get("name") or name).lower(),
                key((c.get("properties") or {}).get("privateLinkServiceId") or ""),
            )
            for list_name in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections")
            for c in p.get(list_name) or []
        }

    before, after = shape(existing.get("properties") or {}), shape(props)
    if before and before != after:
        old_name = sorted(before)[0][0]
        raise bad_request(
            "CannotChangePrivateLinkConnectionOnPrivateEndpoint",
            f"Cannot change the private link connection on private endpoint {existing['id']}. Please ensure you are "
            f"not updating the details of existing private link connection: "
            f"'{existing['id']}/privateLinkServiceConnections/{old_name}'. That is not allowed.",
        )


def put_endpoint(req: ArmRequest) -> ArmResponse:
    require_group(req)
    body = req.json_body()
    world = req.world
    endpoint_id = _rid(req, "privateEndpoints", req.params["privateEndpointName"])
    with world.lock:
        existing = world.get(endpoint_id)
        if existing is not None:
            endpoint_id = existing["id"]
        lro.refuse_if_busy(req, endpoint_id)
        name = existing["name"] if existing else req.params["privateEndpointName"]
        asked_location = (body.get("location") or "").replace(" ", "").lower()
        location = (existing or {}).get("location") or asked_location
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        if existing is not None and asked_location and asked_location != key(existing["location"]):
            raise ArmError(
                409,
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{existing['location']}' in resource group "
                f"'{req.params['resourceGroupName']}'. A resource with the same name cannot be created in location "
                f"'{asked_location}'. Please select a new resource name.",
            )
        props = body.get("properties") or {}
        subnet = _resolve_subnet(req, props, endpoint_id, location)
        lro.refuse_unprovisioned(req, subnet["id"], endpoint_id)
        lro.refuse_unprovisioned(req, _vnet_of(subnet["id"]), endpoint_id)
        if existing is not None and key(existing["properties"]["subnet"]["id"]) != key(subnet["id"]):
            raise bad_request(
                "CannotChangeSubnetOnExistingPrivateEndpoint",
                f"Private endpoint {endpoint_id} is in subnet {existing['properties']['subnet']['id']}; the subnet "
                f"of an existing private endpoint cannot be changed to {subnet['id']}. Delete the private endpoint "
                "and create it again in the new subnet.",
            )
        _check_connections_unchanged(existing, props, name)
        meta = world.meta_of(endpoint_id)
        links: dict[str, dict[str, Any]] = dict(meta.get("links", {}))
        old_nic = world.get(meta["nic_id"]) if meta.get("nic_id") else None

        # Resolve every target and its members before any write, so a bad request changes nothing.
        plans = []
        for list_name, conn in _wanted_connections(props, name):
            conn_props = conn.get("properties") or {}
            conn_name = conn.get("name") or name
            target_ref = conn_props.get("privateLinkServiceId") or ""
            target = world.get(target_ref) if target_ref else None
            if target is None:
                raise ArmError(
                    404,
                    "ResourceNotFound",
                    f"The resource '{target_ref or '(no privateLinkServiceId)'}' that private endpoint {name} "
                    f"connects to (connection '{conn_name}') was not found.",
                )
            lro.refuse_unprovisioned(req, target["id"], endpoint_id)
            group_ids = [str(g) for g in conn_props.get("groupIds") or []]
            members = _members(world, target, group_ids, f"{endpoint_id}/{list_name}/{conn_name}")
            _check_connection_change(req, existing, list_name, conn_name, target, group_ids, links)
            plans.append((list_name, conn_name, conn_props, target, group_ids, members))

        # IPs: a member keeps the IP it had; new members take the next free ones (or a static IP asked for).
        old_ips = {
            fqdn: config["properties"]["privateIPAddress"]
            for config in (old_nic or {}).get("properties", {}).get("ipConfigurations", [])
            for fqdn in config["properties"].get("privateLinkConnectionProperties", {}).get("fqdns", [])
        }
        static = {
            (c.get("properties") or {}).get("memberName", "").lower(): c
            for c in props.get("ipConfigurations") or []
            if (c.get("properties") or {}).get("privateIPAddress")
        }
        allocator = _Allocator(world, subnet, old_nic["id"] if old_nic else None)
        for *_, members in plans:
            for member in members:
                asked = static.get(member["memberName"].lower())
                asked_ip = asked["properties"]["privateIPAddress"] if asked else None
                keep = old_ips.get(member["fqdn"])
                member["ip"] = allocator.take(asked_ip or keep)
                member["configName"] = asked.get("name") if asked and asked.get("name") else None

        # Connections: keep what the target already records (state, name); attach only new ones.
        new_links: dict[str, dict[str, Any]] = {}
        lists: dict[str, list[dict[str, Any]]] = {
            "privateLinkServiceConnections": [],
            "manualPrivateLinkServiceConnections": [],
        }
        old_entries = {
            key(c["properties"]["privateLinkServiceId"]): c
            for list_name in lists
            for c in (existing or {}).get("properties", {}).get(list_name) or []
        }
        for list_name, conn_name, conn_props, target, group_ids, _ in plans:
            tkey = key(target["id"])
            manual = list_name == "manualPrivateLinkServiceConnections"
            link = links.get(tkey)
            if link is not None:
                record = connections.find_for_endpoint(world, target["id"], endpoint_id)
                if record is not None:
                    state = record["properties"]["privateLinkServiceConnectionState"]
                    status, description = state["status"], state.get("description", "")
                else:  # the owner removed it on their side: the endpoint shows it Disconnected
                    old_state = (
                        (old_entries.get(tkey) or {}).get("properties", {}).get("privateLinkServiceConnectionState", {})
                    )
                    status = old_state.get("status", "Disconnected")
                    description = old_state.get("description", "Removed by the resource owner")
            else:
                approved = not manual and _may_approve(world, target)
                status, description = ("Approved", "Auto-Approved") if approved else ("Pending", "Awaiting approval")
                target_name = _target_connection_name(world, target, name)
                connections.attach(
                    world,
                    target["id"],
                    connection_name=target_name,
                    endpoint_id=endpoint_id,
                    group_ids=group_ids,
                    status=status,
                    description=description,
                    manual=manual,
                )
                link = {"target_connection": target_name, "target_id": target["id"]}
            new_links[tkey] = link
            entry: dict[str, Any] = {
                "id": f"{endpoint_id}/{list_name}/{conn_name}",
                "name": conn_name,
                "type": f"{ENDPOINT_TYPE}/{list_name}",
                "etag": _etag(),
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateLinkServiceId": target["id"],
                    "groupIds": group_ids,
                    "privateLinkServiceConnectionState": connections.state_block(
                        target["id"], status, description, for_network=True
                    ),
                },
            }
            if conn_props.get("requestMessage") is not None:
                entry["properties"]["requestMessage"] = conn_props["requestMessage"]
            lists[list_name].append(entry)
        for tkey, link in links.items():
            if tkey not in new_links:
                connections.detach(world, link["target_id"], endpoint_id)

        # The network interface: one IP configuration per member.
        nic_name = (
            (old_nic or {}).get("name") or props.get("customNetworkInterfaceName") or (f"{name}.nic.{world.new_guid()}")
        )
        nic_id = f"{_scope(req)}/providers/Microsoft.Network/networkInterfaces/{nic_name}"
        members_all = [m for *_, members in plans for m in members]
        nic_configs = []
        for i, member in enumerate(members_all):
            config_name = f"privateEndpointIpConfig.{uuid.uuid5(uuid.NAMESPACE_URL, nic_id + member['fqdn'])}"
            nic_configs.append(
                {
                    "id": f"{nic_id}/ipConfigurations/{config_name}",
                    "name": config_name,
                    "type": f"{NIC_TYPE}/ipConfigurations",
                    "etag": _etag(),
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": member["ip"],
                        "privateIPAllocationMethod": "Static" if member["configName"] else "Dynamic",
                        "subnet": {"id": subnet["id"]},
                        "primary": i == 0,
                        "privateIPAddressVersion": "IPv4",
                        "privateLinkConnectionProperties": {
                            "groupId": member["groupId"],
                            "requiredMemberName": member["memberName"],
                            "fqdns": [member["fqdn"]],
                        },
                    },
                }
            )
        dns_suffix = f"{uuid.uuid5(uuid.NAMESPACE_URL, nic_id).hex}.bx.internal.cloudapp.net"
        nic = {
            "id": nic_id,
            "name": nic_name,
            "type": NIC_TYPE,
            "location": location,
            "etag": _etag(),
            "properties": {
                "provisioningState": "Succeeded",
                "resourceGuid": (old_nic or {}).get("properties", {}).get("resourceGuid") or world.new_guid(),
                "ipConfigurations": nic_configs,
                "dnsSettings": {
                    "dnsServers": [],
                    "appliedDnsServers": [],
                    "internalDomainNameSuffix": dns_suffix,
                },
                "macAddress": "",
                "enableAcceleratedNetworking": False,
                "vnetEncryptionSupported": False,
                "enableIPForwarding": False,
                "disableTcpStateTracking": False,
                "privateEndpoint": {"id": endpoint_id},
                "nicType": "Standard",
            },
        }
        world.put(nic)

        endpoint_props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "resourceGuid": (existing or {}).get("properties", {}).get("resourceGuid") or world.new_guid(),
            "privateLinkServiceConnections": lists["privateLinkServiceConnections"],
            "manualPrivateLinkServiceConnections": lists["manualPrivateLinkServiceConnections"],
            "subnet": {"id": subnet["id"]},
            "networkInterfaces": [{"id": nic_id}],
            "customDnsConfigs": [{"fqdn": m["fqdn"], "ipAddresses": [m["ip"]]} for m in members_all],
            "applicationSecurityGroups": props.get("applicationSecurityGroups") or [],
            "ipConfigurations": [
                {
                    "name": m["configName"] or f"{m['memberName']}-ipconfig",
                    "properties": {"groupId": m["groupId"], "memberName": m["memberName"], "privateIPAddress": m["ip"]},
                }
                for m in members_all
            ],
            "ipVersionType": "IPv4",
        }
        if nic_name == props.get("customNetworkInterfaceName"):
            endpoint_props["customNetworkInterfaceName"] = nic_name
        endpoint = {
            "id": endpoint_id,
            "name": name,
            "type": ENDPOINT_TYPE,
            "location": location,
            "etag": _etag(),
            "properties": endpoint_props,
        }
        tags = body.get("tags", (existing or {}).get("tags"))
        if tags:
            endpoint["tags"] = tags
        world.put(endpoint)
        refresh_zone_groups(world, endpoint)
        meta.update({"links": new_links, "nic_id": nic_id})
        if old_nic is not None and key(old_nic["id"]) != key(nic_id):
            world.delete(old_nic["id"])
        sync_vnet(world, _vnet_of(subnet["id"]))
        stored = world.get(endpoint_id)
    return lro.accepted(req, 200 if existing else 201, stored, resource_id=endpoint_id, in_progress="Updating")


def get_endpoint(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, req.world.require(_rid(req, "privateEndpoints", req.params["privateEndpointName"])))


def list_endpoints(req: ArmRequest) -> ArmResponse:
    require_group(req)
    found = [e for e in req.world.by_type(ENDPOINT_TYPE, _scope(req)) if _in_group(e, req)]
    return paged(req, found)


def list_endpoints_in_subscription(req: ArmRequest) -> ArmResponse:
    return paged(req, req.world.by_type(ENDPOINT_TYPE, f"/subscriptions/{req.params['subscriptionId']}"))


def delete_endpoint_resources(world: World, endpoint_id: str) -> bool:
    """Delete an endpoint with everything it owns: its zone groups' A records, its connections on
    the targets, its NIC. False when there was no such endpoint."""
    with world.lock:
        endpoint = world.get(endpoint_id)
        if endpoint is None:
            return False
        for group in world.children(endpoint["id"], "privateDnsZoneGroups"):
            _remove_group_records(world, group)
            world.meta.pop(key(group["id"]), None)
        meta = world.meta_of(endpoint["id"])
        for link in meta.get("links", {}).values():
            connections.detach(world, link["target_id"], endpoint["id"])
        for nic_ref in endpoint["properties"].get("networkInterfaces", []):
            world.delete(nic_ref["id"])
        world.delete(endpoint["id"])
        sync_vnet(world, _vnet_of(endpoint["properties"]["subnet"]["id"]))
        return True


def delete_endpoint(req: ArmRequest) -> ArmResponse:
    endpoint_id = _rid(req, "privateEndpoints", req.params["privateEndpointName"])
    lro.refuse_if_busy(req, endpoint_id)
    if not delete_endpoint_resources(req.world, endpoint_id):
        return ArmResponse(204)
    return lro.accepted(req, 202, None, style="both")


def get_nic(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, req.world.require(_rid(req, "networkInterfaces", req.params["networkInterfaceName"])))


def list_nics(req: ArmRequest) -> ArmResponse:
    require_group(req)
    return paged(req, [n for n in req.world.by_type(NIC_TYPE, _scope(req)) if _in_group(n, req)])


# -- private DNS zone groups ---------------------------------------------------------------------
def _public_suffix(zone_name: str) -> str:
    zone = zone_name.lower().rstrip(".")
    return zone[len("privatelink.") :] if zone.startswith("privatelink.") else zone


def _remove_group_records(world: World, group: dict[str, Any]) -> None:
    for config in group["properties"].get("privateDnsZoneConfigs", []):
        zone_id = config["properties"]["privateDnsZoneId"]
        for record in config["properties"].get("recordSets", []):
            privatedns.remove_a_record(world, zone_id, record["recordSetName"], record["ipAddresses"])


def write_zone_group(
    world: World,
    endpoint: dict[str, Any],
    group_id: str,
    group_name: str,
    zones: list[tuple[str, dict[str, Any]]],
    existing: dict[str, Any] | None,
) -> dict[str, Any]:
    """Write a zone group's A records (one per FQDN of the endpoint, into the zone whose public name
    is the FQDN's longest suffix), drop the ones it wrote before, and store the group."""
    records: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(zones))}
    for dns in endpoint["properties"].get("customDnsConfigs", []):
        fqdn = dns["fqdn"].lower().rstrip(".")
        best: tuple[int, str] | None = None
        for i, (_, zone) in enumerate(zones):
            public = _public_suffix(zone["name"])
            if fqdn.endswith("." + public) and (best is None or len(public) > len(best[1])):
                best = (i, public)
        if best is None:
            continue
        i, public = best
        relative = fqdn[: -len(public) - 1]
        records[i].append(
            {
                "recordType": "A",
                "recordSetName": relative,
                "fqdn": f"{relative}.{zones[i][1]['name']}",
                "ttl": A_RECORD_TTL,
                "ipAddresses": list(dns["ipAddresses"]),
                "provisioningState": "Succeeded",
            }
        )
    with world.lock:
        if existing is not None:
            _remove_group_records(world, existing)
        for i, (_, zone) in enumerate(zones):
            for record in records[i]:
                privatedns.upsert_a_record(
                    world, zone["id"], record["recordSetName"], record["ipAddresses"], A_RECORD_TTL
                )
        group = {
            "id": group_id,
            "name": group_name,
            "type": ZONE_GROUP_TYPE,
            "etag": _etag(),
            "properties": {
                "provisioningState": "Succeeded",
                "privateDnsZoneConfigs": [
                    {"name": config_name, "properties": {"privateDnsZoneId": zone["id"], "recordSets": records[i]}}
                    for i, (config_name, zone) in enumerate(zones)
                ],
            },
        }
        return world.put(group)


def refresh_zone_groups(world: World, endpoint: dict[str, Any]) -> None:
    """After an endpoint update, its zone groups follow its FQDNs and IPs (as Azure keeps them)."""
    for group in world.children(endpoint["id"], "privateDnsZoneGroups"):
        zones = []
        for config in group["properties"].get("privateDnsZoneConfigs", []):
            zone = world.get(config["properties"]["privateDnsZoneId"])
            if zone is not None:
                zones.append((config.get("name") or zone["name"], zone))
        write_zone_group(world, endpoint, group["id"], group["name"], zones, group)


def _check_unique_zones(world: World, group_id: str, configs: list[dict[str, Any]]) -> None:
    """Azure refuses a zone group with two configs of one name, or two zones of one name (from two
    resource groups): 400 InvalidRequestFormat, detail DuplicateResourceName (docs/sandbox.md)."""
    seen: set[str] = set()
    for config in configs:
        zone_ref = (config.get("properties") or {}).get("privateDnsZoneId") or ""
        zone = world.get(zone_ref) if zone_ref else None
        for name in {(config.get("name") or "").lower(), (zone or {}).get("name", "").lower()} - {""}:
            if name in seen:
                raise ArmError(
                    400,
                    "InvalidRequestFormat",
                    "Cannot parse the request.",
                    details=[
                        {
                            "code": "DuplicateResourceName",
                            "message": f"Resource {group_id} has two child resources with the same name ({name}).",
                        }
                    ],
                )
            seen.add(name)


def put_zone_group(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    world = req.world
    endpoint_id = _rid(req, "privateEndpoints", req.params["privateEndpointName"])
    with world.lock:
        endpoint = world.require(endpoint_id)
        group_id = f"{endpoint['id']}/privateDnsZoneGroups/{req.params['privateDnsZoneGroupName']}"
        existing = world.get(group_id)
        lro.refuse_if_busy(req, group_id)
        lro.refuse_if_busy(req, endpoint["id"])  # a zone group write updates its endpoint
        others = [g for g in world.children(endpoint["id"], "privateDnsZoneGroups") if key(g["id"]) != key(group_id)]
        if others:
            raise bad_request(
                "PrivateEndpointCanHaveOnlyOnePrivateDnsZoneGroup",
                f"Cannot create more than one private dns zone groups in the private endpoint {endpoint['name']} "
                f"(it already has '{others[0]['name']}').",
            )
        configs = (body.get("properties") or {}).get("privateDnsZoneConfigs") or []
        if len(configs) > MAX_ZONES_PER_GROUP:
            raise bad_request(
                "PrivateDnsZoneGroupHasTooManyZones",
                f"A private DNS zone group can hold at most {MAX_ZONES_PER_GROUP} private DNS zones; "
                f"{len(configs)} were given.",
            )
        _check_unique_zones(world, group_id, configs)
        zones = []
        for config in configs:
            zone_ref = (config.get("properties") or {}).get("privateDnsZoneId") or ""
            zone = world.get(zone_ref) if zone_ref else None
            if zone is None or zone.get("type", "").lower() != "microsoft.network/privatednszones":
                raise ArmError(
                    404,
                    "ResourceNotFound",
                    f"Private DNS zone '{zone_ref or '(no privateDnsZoneId)'}' referenced by private DNS zone group "
                    f"{group_id} was not found.",
                )
            lro.refuse_unprovisioned(req, zone["id"], group_id)
            zones.append((config.get("name") or zone["name"], zone))

        stored = write_zone_group(
            world,
            endpoint,
            existing["id"] if existing else group_id,
            existing["name"] if existing else req.params["privateDnsZoneGroupName"],
            zones,
            existing,
        )
    return lro.accepted(req, 200 if existing else 201, stored, resource_id=stored["id"], in_progress="Updating")


def get_zone_group(req: ArmRequest) -> ArmResponse:
    endpoint_id = _rid(req, "privateEndpoints", req.params["privateEndpointName"])
    req.world.require(endpoint_id)
    return ArmResponse(
        200, req.world.require(f"{endpoint_id}/privateDnsZoneGroups/{req.params['privateDnsZoneGroupName']}")
    )


def list_zone_groups(req: ArmRequest) -> ArmResponse:
    endpoint = req.world.require(_rid(req, "privateEndpoints", req.params["privateEndpointName"]))
    return paged(req, req.world.children(endpoint["id"], "privateDnsZoneGroups"))


def delete_zone_group(req: ArmRequest) -> ArmResponse:
    endpoint_id = _rid(req, "privateEndpoints", req.params["privateEndpointName"])
    group_id = f"{endpoint_id}/privateDnsZoneGroups/{req.params['privateDnsZoneGroupName']}"
    with req.world.lock:
        group = req.world.get(group_id)
        if group is None:
            return ArmResponse(204)
        lro.refuse_if_busy(req, group_id)
        lro.refuse_if_busy(req, endpoint_id)
        _remove_group_records(req.world, group)
        req.world.delete(group_id)
    return lro.accepted(req, 202, None, style="both")


# -- registration and seeding --------------------------------------------------------------------
def register(router: Router) -> None:
    router.add("PUT", VNET, put_vnet, lro=True)
    router.add("GET", VNET, get_vnet)
    router.add("GET", VNETS, list_vnets)
    router.add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Network/virtualNetworks", list_all_vnets)
    router.add("PUT", SUBNET, put_subnet, lro=True)
    router.add("GET", SUBNET, get_subnet)
    router.add("GET", SUBNETS, list_subnets)
    router.add("PUT", ENDPOINT, put_endpoint, lro=True)
    router.add("GET", ENDPOINT, get_endpoint)
    router.add("DELETE", ENDPOINT, delete_endpoint, lro=True)
    router.add("GET", ENDPOINTS, list_endpoints)
    router.add(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.Network/privateEndpoints",
        list_endpoints_in_subscription,
    )
    router.add("PUT", ZONE_GROUP, put_zone_group, lro=True)
    router.add("GET", ZONE_GROUP, get_zone_group)
    router.add("DELETE", ZONE_GROUP, delete_zone_group, lro=True)
    router.add("GET", ZONE_GROUPS, list_zone_groups)
    router.add("GET", NIC, get_nic)
    router.add("GET", NICS, list_nics)


def seed(world: World) -> None:
    """The scenario's VNets and subnets (validated like a PUT, so a bad scenario fails loudly)."""
    sub = world.scenario.subscription_id
    for seed_vnet in world.scenario.virtual_networks:
        vnet_id = (
            f"/subscriptions/{sub}/resourceGroups/{seed_vnet.resource_group}/providers/Microsoft.Network/"
            f"virtualNetworks/{seed_vnet.name}"
        )
        space = [_network(p, vnet_id) for p in seed_vnet.address_prefixes]
        _validate_layout(
            seed_vnet.name, space, [(s.name, [_network(s.address_prefix, s.name)]) for s in seed_vnet.subnets]
        )
        world.put(
            {
                "id": vnet_id,
                "name": seed_vnet.name,
                "type": VNET_TYPE,
                "location": seed_vnet.location.replace(" ", "").lower(),
                "etag": _etag(),
                "properties": {
                    "provisioningState": "Succeeded",
                    "resourceGuid": world.new_guid(),
                    "addressSpace": {"addressPrefixes": list(seed_vnet.address_prefixes)},
                    "subnets": [],
                    "virtualNetworkPeerings": [],
                    "enableDdosProtection": False,
                },
            }
        )
        for s in seed_vnet.subnets:
            world.put(_subnet_body(f"{vnet_id}/subnets/{s.name}", s.name, {"addressPrefix": s.address_prefix}))
        sync_vnet(world, vnet_id)
