"""Microsoft.Network/privateDnsZones (being built: see issue 2).

Record sets are stored as `{zone_id}/A/{relativeName}` with the ARM shape
`{"id", "name", "type": "Microsoft.Network/privateDnsZones/A", "etag", "properties": {"ttl",
"fqdn", "aRecords": [{"ipv4Address"}], "isAutoRegistered": false}}`. Private endpoint zone groups
(network provider) write and remove their A records through `upsert_a_record`/`remove_a_record`.
"""

from __future__ import annotations

import uuid
from typing import Any

from plmigrate.sandbox.arm import Router
from plmigrate.sandbox.world import World


def a_record_id(zone_id: str, relative_name: str) -> str:
    return f"{zone_id}/A/{relative_name}"


def upsert_a_record(world: World, zone_id: str, relative_name: str, ips: list[str], ttl: int = 10) -> dict[str, Any]:
    """Make the A record set hold at least `ips` (a zone group's write); the zone must exist."""
    with world.lock:
        zone = world.require(zone_id)
        rid = a_record_id(zone["id"], relative_name)
        existing = world.get(rid)
        current = [r["ipv4Address"] for r in (existing or {}).get("properties", {}).get("aRecords", [])]
        merged = current + [ip for ip in ips if ip not in current]
        record = {
            "id": rid,
            "name": relative_name,
            "type": "Microsoft.Network/privateDnsZones/A",
            "etag": str(uuid.uuid4()),
            "properties": {
                "ttl": (existing or {}).get("properties", {}).get("ttl", ttl),
                "fqdn": f"{relative_name}.{zone['name']}.",
                "aRecords": [{"ipv4Address": ip} for ip in merged],
                "isAutoRegistered": False,
            },
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
            world.put(existing)
        else:
            world.delete(rid)


def register(router: Router) -> None:
    pass


def seed(world: World) -> None:
    pass
