"""Is this what we would have made? One check before any write to something that already exists.

plmigrate finds its earlier work by name (plmigrate/naming.py). A name can also be taken by
something plmigrate did not make: a link to another VNet, an endpoint to another account, a zone
group Azure Policy made, a vault in another region. Writing over those re-points, re-targets or
re-tags what belongs to someone else, so every "ensure" task asks `*_verdict` first:

- `create`: nothing there; make it.
- `ours`:   it is what we would have made, and it is Succeeded; write nothing.
- `repair`: it is what we would have made, left Failed (or Canceled); PUT it again from its own
            body (`*_repair_body`), keeping its own tags and properties.
- `foreign`: it is something else; never written. The task fails with `reason` and `fix`.

Pure functions on ARM's JSON (REST shapes, as `plmigrate.azure.rest` returns them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from plmigrate.naming import ZONE_GROUP, zone_config_name

__all__ = [
    "Verdict",
    "ZoneGroupPlan",
    "endpoint_repair_body",
    "endpoint_verdict",
    "link_verdict",
    "vault_repair_body",
    "vault_verdict",
    "zone_group_plan",
]

Kind = Literal["create", "ours", "repair", "foreign"]


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str = ""
    fix: str = ""


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().rstrip("/").lower() == (b or "").strip().rstrip("/").lower()


def _state(resource: dict[str, Any]) -> str:
    return (resource.get("properties") or {}).get("provisioningState") or "Succeeded"


def _settled_kind(resource: dict[str, Any]) -> Kind:
    return "ours" if _state(resource) == "Succeeded" else "repair"


def _name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").split("/")[-1]


def _group_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


# -- VNet links ----------------------------------------------------------------------------------
def link_verdict(link: dict[str, Any] | None, vnet_id: str) -> Verdict:
    """A private DNS zone's link of our name: ours when it links our VNet. Azure cannot change a
    link's VNet, and PUTting ours over it would cut the other VNet off the zone."""
    if link is None:
        return Verdict("create")
    linked = ((link.get("properties") or {}).get("virtualNetwork") or {}).get("id", "")
    if _same(linked, vnet_id):
        return Verdict(_settled_kind(link))
    link_id = link.get("id", "")
    return Verdict(
        "foreign",
        reason=f"the link {link_id} already exists and links VNet {linked or '(none)'}, not {vnet_id}",
        fix=(
            "plmigrate never re-points a link it did not make (the other VNet would lose the zone). If that link is "
            f"stale, delete it (az network private-dns link vnet delete --ids {link_id}) and re-run; otherwise "
            "rename it"
        ),
    )


# -- private endpoints ---------------------------------------------------------------------------
def _connections(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    props = endpoint.get("properties") or {}
    return list(props.get("privateLinkServiceConnections") or []) + list(
        props.get("manualPrivateLinkServiceConnections") or []
    )


def endpoint_verdict(
    endpoint: dict[str, Any] | None, *, subnet_id: str, target_id: str, group_id: str, location: str
) -> Verdict:
    """An endpoint of our name: ours when it is in our subnet and region and connects exactly our
    target for our group, whatever its provisioning state. Azure refuses to re-target an endpoint
    (CannotChangePrivateLinkConnectionOnPrivateEndpoint, CannotChangeSubnetOnExistingPrivateEndpoint,
    InvalidResourceLocation; docs/sandbox.md), and a PUT that tried would drop its connection on
    the other resource."""
    if endpoint is None:
        return Verdict("create")
    props = endpoint.get("properties") or {}
    differences = []
    subnet = (props.get("subnet") or {}).get("id", "")
    if not _same(subnet, subnet_id):
        differences.append(f"it is in subnet {subnet or '(none)'}, not {subnet_id}")
    where = (endpoint.get("location") or "").replace(" ", "").lower()
    if where and where != location.replace(" ", "").lower():
        differences.append(f"it is in {where}, not {location}")
    connections = _connections(endpoint)
    targets = [
        ((c.get("properties") or {}).get("privateLinkServiceId", ""), (c.get("properties") or {}).get("groupIds") or [])
        for c in connections
    ]
    wanted = [
        (t, groups)
        for t, groups in targets
        if _same(t, target_id) and [g.lower() for g in groups] == [group_id.lower()]
    ]
    if len(connections) != 1 or not wanted:
        shown = "; ".join(f"{t or '(none)'} ({', '.join(g) or 'no group'})" for t, g in targets) or "nothing"
        differences.append(f"it connects {shown}, not {target_id} ({group_id})")
    if not differences:
        return Verdict(_settled_kind(endpoint))
    endpoint_id = endpoint.get("id", "")
    return Verdict(
        "foreign",
        reason=f"the private endpoint {endpoint_id} already exists, left {_state(endpoint)}, and is not ours: "
        + "; ".join(differences),
        fix=(
            "plmigrate never re-targets an endpoint it did not make (Azure refuses it too, and the other resource "
            f"would lose its connection). If that endpoint is stale, delete it (az network private-endpoint delete "
            f"--ids {endpoint_id}) and re-run; otherwise give plmigrate another resource group for its endpoints"
        ),
    )


# The writable parts of a private link service connection (the rest is Azure's state).
_CONNECTION_KEYS = ("privateLinkServiceId", "groupIds", "requestMessage")
# Settings an endpoint keeps when repaired. Not `ipConfigurations`: ARM lists the IPs it allocated
# there, and sending them back would pin them as static; each member keeps its address anyway.
_ENDPOINT_KEYS = ("applicationSecurityGroups", "customNetworkInterfaceName")


def endpoint_repair_body(endpoint: dict[str, Any]) -> dict[str, Any]:
    """The PUT that repairs an endpoint of ours left Failed: its own location, tags, subnet,
    connections (same kind: automatic or manual) and settings, nothing of the business unit's."""
    props = endpoint.get("properties") or {}
    body_props: dict[str, Any] = {"subnet": {"id": (props.get("subnet") or {}).get("id", "")}}
    for list_name in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        conns = props.get(list_name) or []
        if conns:
            body_props[list_name] = [
                {
                    "name": c.get("name"),
                    "properties": {
                        k: copy.deepcopy(v) for k, v in (c.get("properties") or {}).items() if k in _CONNECTION_KEYS
                    },
                }
                for c in conns
            ]
    for k in _ENDPOINT_KEYS:
        if props.get(k):
            body_props[k] = copy.deepcopy(props[k])
    body: dict[str, Any] = {"location": endpoint.get("location"), "properties": body_props}
    if endpoint.get("tags") is not None:
        body["tags"] = dict(endpoint["tags"])
    return body


# -- zone groups ---------------------------------------------------------------------------------
@dataclass
class ZoneGroupPlan:
    """What to do with an endpoint's zone group: `none` (it names every zone, Succeeded), `write`
    (PUT `group_name` with `configs`), or `foreign` (fail with `reason` and `fix`)."""

    action: Literal["none", "write", "foreign"]
    group_name: str = ZONE_GROUP
    configs: list[dict[str, Any]] = field(default_factory=list)
    adopted: bool = False  # a group plmigrate did not name, already pointing at the right zones
    reason: str = ""
    fix: str = ""


def zone_group_plan(
    groups: list[dict[str, Any]], zone_ids: list[str], *, endpoint_name: str, resource_group: str
) -> ZoneGroupPlan:
    """An endpoint has at most one zone group (PrivateEndpointCanHaveOnlyOnePrivateDnsZoneGroup),
    and a group cannot name two zones of one name (DuplicateResourceName).

    - no group: make `default` naming the zones;
    - a group naming a zone of the same name as one of ours but another zone (another resource
      group's copy): foreign, its A records land there; the fix re-points it;
    - `default`, naming other zones too: add ours beside them (their A records stay);
    - a group of another name (Azure Policy makes these) naming every zone of ours: adopt it
      (repaired under its own name if it was left Failed); naming others only: foreign.
    """
    fix_delete = (
        f"az network private-endpoint dns-zone-group delete --resource-group {resource_group} "
        f"--endpoint-name {endpoint_name} --name {{group}}"
    )
    if not groups:
        return ZoneGroupPlan("write", ZONE_GROUP, [_config(z) for z in zone_ids])
    group = groups[0]
    name = group.get("name") or ZONE_GROUP
    props = group.get("properties") or {}
    configs = [
        {"name": c.get("name"), "properties": {"privateDnsZoneId": (c.get("properties") or {}).get("privateDnsZoneId")}}
        for c in props.get("privateDnsZoneConfigs") or []
    ]
    present = [(c["properties"]["privateDnsZoneId"] or "") for c in configs]
    for zone_id in zone_ids:
        twins = [p for p in present if _name_of(p).lower() == _name_of(zone_id).lower() and not _same(p, zone_id)]
        if twins:
            return ZoneGroupPlan(
                "foreign",
                name,
                reason=(
                    f"its zone group '{name}' names {twins[0]} (resource group {_group_of(twins[0])}), another zone "
                    f"called {_name_of(zone_id)}: the endpoint's A records are written there, not in {zone_id}, and "
                    "Azure refuses two zones of one name in a group (DuplicateResourceName)"
                ),
                fix=(
                    f"point the zone group at {zone_id} (az network private-endpoint dns-zone-group update "
                    f"--resource-group {resource_group} --endpoint-name {endpoint_name} --name {name} "
                    f"--zone-name {zone_config_name(_name_of(zone_id))} --private-dns-zone {zone_id}), or delete it "
                    f"({fix_delete.format(group=name)}) and re-run; or set dns_zone_resource_group to "
                    f"{_group_of(twins[0])} if that zone is the one on-prem DNS resolves"
                ),
            )
    missing = [z for z in zone_ids if not any(_same(p, z) for p in present)]
    settled = _state(group) == "Succeeded"
    if name.lower() != ZONE_GROUP:
        if missing:
            return ZoneGroupPlan(
                "foreign",
                name,
                reason=(
                    f"it already has a zone group '{name}' (made by someone else, e.g. Azure Policy) naming "
                    f"{', '.join(present) or 'no zone'}, not {', '.join(missing)}; an endpoint can have only one "
                    "zone group (PrivateEndpointCanHaveOnlyOnePrivateDnsZoneGroup)"
                ),
                fix=(
                    f"add {', '.join(missing)} to that group, or delete it ({fix_delete.format(group=name)}) and "
                    "re-run; if Azure Policy makes it, point the policy's privateDnsZoneId at that zone"
                ),
            )
        return ZoneGroupPlan("none" if settled else "write", name, configs, adopted=True)
    if not missing and settled:
        return ZoneGroupPlan("none", name, configs)
    return ZoneGroupPlan("write", name, configs + [_config(z) for z in missing])


def _config(zone_id: str) -> dict[str, Any]:
    return {"name": zone_config_name(_name_of(zone_id)), "properties": {"privateDnsZoneId": zone_id}}


# -- vaults --------------------------------------------------------------------------------------
def vault_verdict(vault: dict[str, Any] | None, *, location: str) -> Verdict:
    """The business unit names its vault, so a vault of that name is the one it means, unless it
    is in another region (a vault cannot move; a PUT would be refused or, worse, re-shape it)."""
    if vault is None:
        return Verdict("create")
    where = (vault.get("location") or "").replace(" ", "").lower()
    if where and where != location.replace(" ", "").lower():
        return Verdict(
            "foreign",
            reason=f"the vault {vault.get('id', '')} exists in {where}, not {location}",
            fix="name another vault in the business-unit file (vault_name), or set region to the vault's",
        )
    return Verdict(_settled_kind(vault))


# Vault properties Azure computes: never sent back.
_VAULT_READ_ONLY = {
    "provisioningState",
    "privateEndpointConnections",
    "privateEndpointStateForBackup",
    "privateEndpointStateForSiteRecovery",
    "upgradeDetails",
    "moveDetails",
    "moveState",
    "backupStorageVersion",
    "secureScore",
    "bcdrSecurityLevel",
    "resourceGuardOperationRequests",
}


def vault_repair_body(vault: dict[str, Any]) -> dict[str, Any]:
    """The PUT that repairs a vault left Failed: its own tags, SKU, identity (with a system-assigned
    one added) and properties, so a vault whose public access was disabled stays disabled."""
    identity = vault.get("identity") or {}
    kinds = [k.strip() for k in (identity.get("type") or "None").split(",") if k.strip() and k.strip() != "None"]
    new_identity: dict[str, Any] = {"type": ", ".join(["SystemAssigned", *[k for k in kinds if k != "SystemAssigned"]])}
    if identity.get("userAssignedIdentities"):
        new_identity["userAssignedIdentities"] = {k: {} for k in identity["userAssignedIdentities"]}
    body: dict[str, Any] = {
        "location": vault.get("location"),
        "sku": copy.deepcopy(vault.get("sku") or {"name": "Standard"}),
        "identity": new_identity,
        "properties": {
            k: copy.deepcopy(v) for k, v in (vault.get("properties") or {}).items() if k not in _VAULT_READ_ONLY
        },
    }
    if vault.get("tags") is not None:
        body["tags"] = dict(vault["tags"])
    return body
