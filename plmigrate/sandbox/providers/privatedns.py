"""Microsoft.Network/privateDnsZones: private DNS zones, their record sets and virtual network links.

What the SDK (azure-mgmt-privatedns 2.0.0) drives, as ARM does it:
- Zones: PUT and PATCH (tags only) are long-running (202 + `Azure-AsyncOperation` and
  `Location`), location must be `global`; GET, list per subscription and per resource group,
  DELETE (long-running) refused with 409 `CannotDeleteResource` while virtual network links exist.
  A new zone holds its SOA record set `@`, so `numberOfRecordSets` starts at 1, as in Azure. The
  counters are computed on every read.
- Record sets: `{zone_id}/{type}/{relativeName}` (names are stored lower-case, as Azure returns
  them; `@` is the apex), PUT / PATCH (each property given replaces its own) / GET / DELETE, list
  by type and list of all (`/ALL`). Each change gets a fresh `etag`; `If-Match` and
  `If-None-Match: *` are honoured (412 `PreconditionFailed`), on PATCH too.
- Virtual network links: PUT and PATCH (long-running) / GET / list / DELETE (long-running). The
  linked VNet must exist (400 `BadRequest` "Virtual network resource not found for '…'", Azure's
  answer); a VNet may be linked to a zone once. `virtualNetworkLinkState` is `Completed` at once.

The sandbox DNS server (`plmigrate.sandbox.dns`) reads the zones, links and A records live.
Private endpoint zone groups (network provider) write and remove their A records through
`upsert_a_record`/`remove_a_record`.
"""

from __future__ import annotations

import uuid
from typing import Any

from plmigrate.sandbox import lro
from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router, bad_request, not_found, paged
from plmigrate.sandbox.providers.resources import group_id, require_group
from plmigrate.sandbox.world import World, key

# Private DNS's versions (privatedns specs' readme tags, PrivateDns/readme.md); 2024-06-01 is
# azure-mgmt-privatedns 2.0.0's default. A global type: ARM's refusal names location 'global'.
API_VERSIONS: dict[str, Served] = {
    "Microsoft.Network/privateDnsZones": served(
        "2018-09-01", "2020-01-01", "2020-06-01", "2024-06-01", "2026-06-01-preview", routing="global"
    ),
}


ZONE_TYPE = "Microsoft.Network/privateDnsZones"
LINK_TYPE = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
VNET_TYPE = "Microsoft.Network/virtualNetworks"
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "PTR", "SOA", "SRV", "TXT")
# The properties key holding each record type's data.
RECORD_FIELDS = {
    "A": "aRecords",
    "AAAA": "aaaaRecords",
    "CNAME": "cnameRecord",
    "MX": "mxRecords",
    "PTR": "ptrRecords",
    "SOA": "soaRecord",
    "SRV": "srvRecords",
    "TXT": "txtRecords",
}
# Azure's limits per zone, shown on every zone.
MAX_RECORD_SETS = 25000
MAX_LINKS = 1000
MAX_LINKS_WITH_REGISTRATION = 100

PROVIDER = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network"
ZONES = PROVIDER + "/privateDnsZones"
ZONE = ZONES + "/{privateZoneName}"
RECORDS_ALL = ZONE + "/ALL"
RECORDS_OF_TYPE = ZONE + "/{recordType}"
RECORD = ZONE + "/{recordType}/{relativeRecordSetName}"
LINKS = ZONE + "/virtualNetworkLinks"
LINK = LINKS + "/{virtualNetworkLinkName}"


# -- shared helpers (also used by the network provider's zone groups) ---------------------------
def a_record_id(zone_id: str, relative_name: str) -> str:
    return f"{zone_id}/A/{relative_name.lower()}"


def _fqdn(relative_name: str, zone_name: str) -> str:
    return f"{zone_name}." if relative_name == "@" else f"{relative_name}.{zone_name}."


def upsert_a_record(world: World, zone_id: str, relative_name: str, ips: list[str], ttl: int = 10) -> dict[str, Any]:
    """Make the A record set hold at least `ips` (a zone group's write); the zone must exist."""
    relative_name = relative_name.lower()
    with world.lock:
        zone = world.require(zone_id)
        rid = a_record_id(zone["id"], relative_name)
        existing = world.get(rid)
        current = [r["ipv4Address"] for r in (existing or {}).get("properties", {}).get("aRecords", [])]
        merged = current + [ip for ip in ips if ip not in current]
        properties: dict[str, Any] = {
            "ttl": (existing or {}).get("properties", {}).get("ttl", ttl),
            "fqdn": _fqdn(relative_name, zone["name"]),
            "aRecords": [{"ipv4Address": ip} for ip in merged],
            "isAutoRegistered": False,
        }
        if (existing or {}).get("properties", {}).get("metadata"):
            properties["metadata"] = existing["properties"]["metadata"]  # type: ignore[index]
        record = {
            "id": rid,
            "name": relative_name,
            "type": "Microsoft.Network/privateDnsZones/A",
            "etag": str(uuid.uuid4()),
            "properties": properties,
        }
        return world.put(record)


def remove_a_record(world: World, zone_id: str, relative_name: str, ips: list[str]) -> None:
    """Take `ips` out of the record set; delete the set when it is left empty."""
    with world.lock:
        rid = a_record_id(zone_id, relative_name)
        existing = world.get(rid)
        if existing is None:
            return
        left = [r for r in existing["properties"].get("aRecords", []) if r["ipv4Address"] not in ips]
        if left:
            existing["properties"]["aRecords"] = left
            existing["etag"] = str(uuid.uuid4())
            world.put(existing)
        else:
            world.delete(rid)


def record_sets(world: World, zone_id: str) -> list[dict[str, Any]]:
    """Every record set of a zone (all types), in a stable order."""
    found: list[dict[str, Any]] = []
    for rtype in RECORD_TYPES:
        found.extend(world.children(zone_id, rtype))
    return found


def links_of(world: World, zone_id: str) -> list[dict[str, Any]]:
    return world.children(zone_id, "virtualNetworkLinks")


# -- ids and checks ------------------------------------------------------------------------------
def zone_id_of(req: ArmRequest) -> str:
    p = req.params
    return (
        f"{group_id(p['subscriptionId'], p['resourceGroupName'])}/providers/Microsoft.Network/privateDnsZones/"
        f"{p['privateZoneName']}"
    )


def _view_zone(world: World, zone: dict[str, Any]) -> dict[str, Any]:
    """A zone as ARM shows it, with its counters computed from what it holds now."""
    links = links_of(world, zone["id"])
    props = zone.setdefault("properties", {})
    props.update(
        {
            "maxNumberOfRecordSets": MAX_RECORD_SETS,
            "numberOfRecordSets": len(record_sets(world, zone["id"])),
            "maxNumberOfVirtualNetworkLinks": MAX_LINKS,
            "numberOfVirtualNetworkLinks": len(links),
            "maxNumberOfVirtualNetworkLinksWithRegistration": MAX_LINKS_WITH_REGISTRATION,
            "numberOfVirtualNetworkLinksWithRegistration": sum(
                1 for link in links if link["properties"].get("registrationEnabled")
            ),
        }
    )
    return zone


def _require_zone(req: ArmRequest) -> dict[str, Any]:
    """The zone a child request is under, or ARM's ParentResourceNotFound."""
    zone = req.world.get(zone_id_of(req))
    if zone is None:
        require_group(req)
        raise ArmError(
            404,
            "ParentResourceNotFound",
            f"Can not perform requested operation on nested resource. Parent resource "
            f"'{req.params['privateZoneName']}' not found.",
        )
    return zone


def _check_preconditions(req: ArmRequest, existing: dict[str, Any] | None) -> None:
    """Honour optimistic concurrency: `If-Match: <etag>|*` and `If-None-Match: *`."""
    if_match = (req.headers.get("if-match") or "").strip('"')
    if if_match and (existing is None or if_match not in {"*", existing.get("etag")}):
        raise ArmError(
            412,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )
    if_none_match = req.headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip('"') == "*" and existing is not None:
        raise ArmError(
            412,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )


def _check_global(body: dict[str, Any], resource_type: str) -> None:
    location = str(body.get("location") or "")
    if not location:
        raise bad_request("LocationRequired", "The location property is required for this definition.")
    if location.replace(" ", "").lower() != "global":
        raise bad_request(
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type '{resource_type}'. "
            "List of available regions for the resource type is 'global'.",
        )


# -- zones ---------------------------------------------------------------------------------------
def put_zone(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    require_group(req)
    zid = zone_id_of(req)
    with req.world.lock:
        existing = req.world.get(zid)
        lro.refuse_if_busy(req, zid)
        _check_preconditions(req, existing)
        _check_global(body, ZONE_TYPE)
        name = existing["name"] if existing else req.params["privateZoneName"].lower()
        zone = {
            "id": existing["id"] if existing else zid.rsplit("/", 1)[0] + "/" + name,
            "name": name,
            "type": ZONE_TYPE,
            "location": "global",
            "etag": str(uuid.uuid4()),
            "properties": {
                "provisioningState": "Succeeded",
                "internalId": (existing or {}).get("properties", {}).get("internalId") or f"Private;{uuid.uuid4()}",
            },
        }
        tags = body.get("tags", (existing or {}).get("tags"))
        if tags:
            zone["tags"] = tags
        req.world.put(zone)
        if existing is None:
            _put_soa(req.world, zone)
    return lro.accepted(
        req, 202, None, style="both", resource_id=zone["id"], in_progress="Updating" if existing else "Creating"
    )


def patch_zone(req: ArmRequest) -> ArmResponse:
    """PATCH (long-running): only tags can change on a zone; links and records are not touched.
    Tags given replace the zone's tags, as ARM's PATCH does; a body without tags changes nothing."""
    body = req.json_body()
    zid = zone_id_of(req)
    with req.world.lock:
        zone = req.world.get(zid)
        if zone is None:
            require_group(req)
            raise not_found(zid)
        lro.refuse_if_busy(req, zid)
        _check_preconditions(req, zone)
        if body.get("location") is not None:
            _check_global(body, ZONE_TYPE)
        if "tags" in body:
            if body["tags"]:
                zone["tags"] = dict(body["tags"])
            else:
                zone.pop("tags", None)
        zone["etag"] = str(uuid.uuid4())
        req.world.put(zone)
    return lro.accepted(req, 202, None, style="both", resource_id=zone["id"], in_progress="Updating")


def _put_soa(world: World, zone: dict[str, Any]) -> None:
    """Azure makes every zone with its SOA record set at the apex."""
    world.put(
        {
            "id": f"{zone['id']}/SOA/@",
            "name": "@",
            "type": "Microsoft.Network/privateDnsZones/SOA",
            "etag": str(uuid.uuid4()),
            "properties": {
                "ttl": 3600,
                "fqdn": f"{zone['name']}.",
                "isAutoRegistered": False,
                "soaRecord": {
                    "host": "azureprivatedns.net",
                    "email": "azureprivatedns-host.microsoft.com",
                    "serialNumber": 1,
                    "refreshTime": 3600,
                    "retryTime": 300,
                    "expireTime": 2419200,
                    "minimumTtl": 10,
                },
            },
        }
    )


def get_zone(req: ArmRequest) -> ArmResponse:
    zone = req.world.get(zone_id_of(req))
    if zone is None:
        raise not_found(zone_id_of(req))
    return ArmResponse(200, _view_zone(req.world, zone))


def delete_zone(req: ArmRequest) -> ArmResponse:
    zid = zone_id_of(req)
    with req.world.lock:
        zone = req.world.get(zid)
        if zone is None:
            return ArmResponse(204)
        lro.refuse_if_busy(req, zid)
        _check_preconditions(req, zone)
        links = links_of(req.world, zid)
        if links:
            nested = ", ".join(f"'{ZONE_TYPE}/{zone['name']}/virtualNetworkLinks/{link['name']}'" for link in links)
            raise ArmError(
                409,
                "CannotDeleteResource",
                f"Cannot delete resource while nested resources exist. Some existing nested resource IDs include: "
                f"{nested}. Please delete all nested resources before deleting this resource.",
            )
        req.world.delete(zid)
    return lro.accepted(req, 202, None, style="both")


def list_zones_in_group(req: ArmRequest) -> ArmResponse:
    group = require_group(req)
    zones = req.world.by_type(ZONE_TYPE, group["id"] + "/providers/")
    return paged(req, [_view_zone(req.world, z) for z in zones], honour_top=True)


def list_zones(req: ArmRequest) -> ArmResponse:
    zones = req.world.by_type(ZONE_TYPE, f"/subscriptions/{req.params['subscriptionId']}/")
    return paged(req, [_view_zone(req.world, z) for z in zones], honour_top=True)


# -- record sets ---------------------------------------------------------------------------------
def _record_type(req: ArmRequest) -> str:
    wanted = req.params["recordType"].upper()
    if wanted not in RECORD_TYPES:
        raise bad_request(
            "BadRequest",
            f"The record type '{req.params['recordType']}' is not valid. Valid types: {', '.join(RECORD_TYPES)}.",
        )
    return wanted


def _record_id(zone: dict[str, Any], rtype: str, relative_name: str) -> str:
    return f"{zone['id']}/{rtype}/{relative_name.lower()}"


def put_record(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    rtype = _record_type(req)
    relative = req.params["relativeRecordSetName"].lower()
    with req.world.lock:
        zone = _require_zone(req)
        rid = _record_id(zone, rtype, relative)
        existing = req.world.get(rid)
        _check_preconditions(req, existing)
        if rtype == "SOA" and relative != "@":
            raise bad_request("BadRequest", "The SOA record set can only be created at the zone apex ('@').")
        if rtype == "CNAME" and relative == "@":
            raise bad_request("BadRequest", "A CNAME record set cannot be created at the zone apex.")
        given = body.get("properties") or {}
        data_field = RECORD_FIELDS[rtype]
        properties: dict[str, Any] = {
            "ttl": int(given.get("ttl", 3600)),
            "fqdn": _fqdn(relative, zone["name"]),
            "isAutoRegistered": False,
        }
        if given.get("metadata"):
            properties["metadata"] = given["metadata"]
        if rtype == "A" or data_field in given:
            properties[data_field] = _record_data(rtype, given)
        record = {
            "id": rid,
            "name": relative,
            "type": f"{ZONE_TYPE}/{rtype}",
            "etag": str(uuid.uuid4()),
            "properties": properties,
        }
        stored = req.world.put(record)
    return ArmResponse(200 if existing else 201, stored)


def _record_data(rtype: str, given: dict[str, Any]) -> Any:
    """The record data of a PUT or PATCH body (`aRecords`, `cnameRecord`, ...), validated."""
    if rtype == "A":
        ips = [r.get("ipv4Address") for r in given.get("aRecords") or []]
        bad = [ip for ip in ips if not _is_ipv4(ip)]
        if bad:
            raise bad_request("BadRequest", f"The IPv4 address(es) {bad} are not valid.")
        return [{"ipv4Address": ip} for ip in ips]
    return given[RECORD_FIELDS[rtype]]


def patch_record(req: ArmRequest) -> ArmResponse:
    """PATCH (synchronous): each property given replaces that property (`ttl`, `metadata` as a
    whole, the record data); what is not given stays. The record set must exist."""
    body = req.json_body()
    rtype = _record_type(req)
    with req.world.lock:
        zone = _require_zone(req)
        rid = _record_id(zone, rtype, req.params["relativeRecordSetName"])
        existing = req.world.get(rid)
        if existing is None:
            raise not_found(rid)
        _check_preconditions(req, existing)
        given = body.get("properties") or {}
        props = existing["properties"]
        if given.get("ttl") is not None:
            props["ttl"] = int(given["ttl"])
        if given.get("metadata") is not None:
            if given["metadata"]:
                props["metadata"] = dict(given["metadata"])
            else:
                props.pop("metadata", None)
        if given.get(RECORD_FIELDS[rtype]) is not None:
            props[RECORD_FIELDS[rtype]] = _record_data(rtype, given)
        existing["etag"] = str(uuid.uuid4())
        stored = req.world.put(existing)
    return ArmResponse(200, stored)


def _is_ipv4(value: Any) -> bool:
    parts = str(value).split(".")
    return len(parts) == 4 and all(p.isdigit() and 0 <= int(p) <= 255 for p in parts)


def get_record(req: ArmRequest) -> ArmResponse:
    rtype = _record_type(req)
    zone = _require_zone(req)
    rid = _record_id(zone, rtype, req.params["relativeRecordSetName"])
    record = req.world.get(rid)
    if record is None:
        raise not_found(rid)
    return ArmResponse(200, record)


def delete_record(req: ArmRequest) -> ArmResponse:
    rtype = _record_type(req)
    with req.world.lock:
        zone = req.world.get(zone_id_of(req))
        if zone is None:
            return ArmResponse(204)
        rid = _record_id(zone, rtype, req.params["relativeRecordSetName"])
        existing = req.world.get(rid)
        if existing is None:
            return ArmResponse(204)
        _check_preconditions(req, existing)
        if rtype == "SOA":
            raise bad_request("BadRequest", "The SOA record set of a zone cannot be deleted.")
        req.world.delete(rid)
    return ArmResponse(200)


def list_records_of_type(req: ArmRequest) -> ArmResponse:
    rtype = _record_type(req)
    zone = _require_zone(req)
    return paged(req, req.world.children(zone["id"], rtype), honour_top=True)


def list_records(req: ArmRequest) -> ArmResponse:
    zone = _require_zone(req)
    return paged(req, record_sets(req.world, zone["id"]), honour_top=True)


# -- virtual network links -----------------------------------------------------------------------
def put_link(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    name = req.params["virtualNetworkLinkName"]
    with req.world.lock:
        zone = _require_zone(req)
        lid = f"{zone['id']}/virtualNetworkLinks/{name}"
        existing = req.world.get(lid)
        lro.refuse_if_busy(req, lid)
        lro.refuse_if_busy(req, zone["id"])  # not while the zone itself is being made or changed
        _check_preconditions(req, existing)
        _check_global(body, LINK_TYPE)
        given = body.get("properties") or {}
        vnet_id = ((given.get("virtualNetwork") or {}).get("id") or "").strip()
        if not vnet_id:
            raise bad_request(
                "BadRequest", "The virtual network of the link must be given (properties.virtualNetwork.id)."
            )
        vnet = req.world.get(vnet_id)
        if vnet is None or vnet.get("type", "").lower() != VNET_TYPE.lower():
            raise bad_request("BadRequest", f"Virtual network resource not found for '{vnet_id}'")
        lro.refuse_unprovisioned(req, vnet["id"], lid)
        if existing is not None and key(existing["properties"]["virtualNetwork"]["id"]) != key(vnet["id"]):
            # Azure links a VNet for the link's life: `az network private-dns link vnet update` "does not
            # modify virtual network within the link", and a PUT that tries is refused (docs/sandbox.md).
            raise bad_request(
                "BadRequest",
                f"The virtual network of virtual network link '{existing['name']}' cannot be changed (it links "
                f"'{existing['properties']['virtualNetwork']['id']}'). Delete the link and create it again to link "
                "another virtual network.",
            )
        for other in links_of(req.world, zone["id"]):
            if key(other["id"]) != key(lid) and key(other["properties"]["virtualNetwork"]["id"]) == key(vnet_id):
                raise ArmError(
                    409,
                    "Conflict",
                    f"A virtual network cannot be linked to the same zone more than once. Virtual network "
                    f"'{vnet['id']}' is already linked to zone '{zone['name']}' by link '{other['name']}'.",
                )
        properties: dict[str, Any] = {
            "virtualNetwork": {"id": vnet["id"]},
            "registrationEnabled": bool(given.get("registrationEnabled", False)),
            "virtualNetworkLinkState": "Completed",
            "provisioningState": "Succeeded",
        }
        if given.get("resolutionPolicy"):
            properties["resolutionPolicy"] = given["resolutionPolicy"]
        link = {
            "id": existing["id"] if existing else lid,
            "name": existing["name"] if existing else name,
            "type": LINK_TYPE,
            "location": "global",
            "etag": str(uuid.uuid4()),
            "properties": properties,
        }
        tags = body.get("tags", (existing or {}).get("tags"))
        if tags:
            link["tags"] = tags
        req.world.put(link)
    return lro.accepted(
        req, 202, None, style="both", resource_id=link["id"], in_progress="Updating" if existing else "Creating"
    )


def patch_link(req: ArmRequest) -> ArmResponse:
    """PATCH (long-running): tags given replace the link's tags; `registrationEnabled` and
    `resolutionPolicy` given replace theirs. The linked VNet is fixed for the link's life."""
    body = req.json_body()
    with req.world.lock:
        zone = _require_zone(req)
        lid = f"{zone['id']}/virtualNetworkLinks/{req.params['virtualNetworkLinkName']}"
        link = req.world.get(lid)
        if link is None:
            raise not_found(lid)
        lro.refuse_if_busy(req, lid)
        _check_preconditions(req, link)
        if body.get("location") is not None:
            _check_global(body, LINK_TYPE)
        given = body.get("properties") or {}
        props = link["properties"]
        asked_vnet = ((given.get("virtualNetwork") or {}).get("id") or "").strip()
        if asked_vnet and key(asked_vnet) != key(props["virtualNetwork"]["id"]):
            raise bad_request(
                "BadRequest",
                f"The virtual network of virtual network link '{link['name']}' cannot be changed from "
                f"'{props['virtualNetwork']['id']}' to '{asked_vnet}'. Delete the link and create a new one.",
            )
        if given.get("registrationEnabled") is not None:
            props["registrationEnabled"] = bool(given["registrationEnabled"])
        if given.get("resolutionPolicy") is not None:
            props["resolutionPolicy"] = given["resolutionPolicy"]
        if "tags" in body:
            if body["tags"]:
                link["tags"] = dict(body["tags"])
            else:
                link.pop("tags", None)
        link["etag"] = str(uuid.uuid4())
        req.world.put(link)
    return lro.accepted(req, 202, None, style="both", resource_id=link["id"], in_progress="Updating")


def get_link(req: ArmRequest) -> ArmResponse:
    zone = _require_zone(req)
    lid = f"{zone['id']}/virtualNetworkLinks/{req.params['virtualNetworkLinkName']}"
    link = req.world.get(lid)
    if link is None:
        raise not_found(lid)
    return ArmResponse(200, link)


def delete_link(req: ArmRequest) -> ArmResponse:
    with req.world.lock:
        zone = req.world.get(zone_id_of(req))
        if zone is None:
            return ArmResponse(204)
        lid = f"{zone['id']}/virtualNetworkLinks/{req.params['virtualNetworkLinkName']}"
        existing = req.world.get(lid)
        if existing is None:
            return ArmResponse(204)
        lro.refuse_if_busy(req, lid)
        _check_preconditions(req, existing)
        req.world.delete(lid)
    return lro.accepted(req, 202, None, style="both")


def list_links(req: ArmRequest) -> ArmResponse:
    zone = _require_zone(req)
    return paged(req, links_of(req.world, zone["id"]))


def register(router: Router) -> None:
    router.add("PUT", ZONE, put_zone, lro=True)
    router.add("GET", ZONE, get_zone)
    router.add("PATCH", ZONE, patch_zone, lro=True)
    router.add("DELETE", ZONE, delete_zone, lro=True)
    router.add("GET", ZONES, list_zones_in_group)
    router.add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Network/privateDnsZones", list_zones)
    router.add("PUT", RECORD, put_record)
    router.add("GET", RECORD, get_record)
    router.add("PATCH", RECORD, patch_record)
    router.add("DELETE", RECORD, delete_record)
    router.add("GET", RECORDS_OF_TYPE, list_records_of_type)
    router.add("GET", RECORDS_ALL, list_records)
    router.add("PUT", LINK, put_link, lro=True)
    router.add("GET", LINK, get_link)
    router.add("PATCH", LINK, patch_link, lro=True)
    router.add("DELETE", LINK, delete_link, lro=True)
    router.add("GET", LINKS, list_links)


def seed(world: World) -> None:
    """The scenario seeds no private DNS zones: plmigrate creates them."""
