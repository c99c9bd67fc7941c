"""Names plmigrate gives the resources it creates.

Every name is derived from the business unit and the resource it serves, never random, so a
re-run (or a run resumed after a crash) finds what an earlier run made instead of making a twin.
A derived name must also be unique per ARM ID of what it serves: two VNets called `vnet-hub` in
two resource groups get two links, not one link PUT back and forth between them. Where the
readable part alone cannot promise that (a name built from a resource's short name, or one
trimmed to ARM's length limit), a short hash of the full ARM ID is appended.
"""

from __future__ import annotations

import hashlib
import re

ZONE_GROUP = "default"  # one zone group per endpoint, as the portal names it

# ARM's limits for the names made here (privateEndpoints and virtualNetworkLinks: 1-80 characters,
# letters, digits, '_', '.', '-', starting with a letter or digit, ending with a letter, digit or '_').
MAX_NAME = 80
_HASH_CHARS = 8
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")


def id_hash(arm_id: str, chars: int = _HASH_CHARS) -> str:
    """A short, stable hash of an ARM ID; ARM IDs are case-insensitive, so is the hash."""
    return hashlib.sha256(arm_id.strip().rstrip("/").lower().encode()).hexdigest()[:chars]


def _clean(name: str) -> str:
    """Only ARM's allowed characters, starting with a letter or digit and ending with one (or '_')."""
    name = _NOT_ALLOWED.sub("-", name).lstrip("-._")
    return name.rstrip("-.")


def _fit(readable: str, limit: int, key: str) -> str:
    """`readable` when it fits ARM's limit as it is; else its trimmed head and a hash of `key`
    (two long names that share their first `limit` characters must not become one name)."""
    readable = _clean(readable)
    if len(readable) <= limit:
        return readable
    head = _clean(readable[: limit - _HASH_CHARS - 1])
    return f"{head}-{id_hash(key)}"


def endpoint_name(resource_name: str, group_id: str, resource_id: str = "") -> str:
    """`pe-{resource}-{group}`, e.g. pe-stfinrepl01-blob (ARM allows 80 characters).

    Unique per target: storage account names are global and a business unit has one vault, so the
    readable name is kept as earlier releases made it (re-runs must find those endpoints); only a
    name too long for ARM gets the target's hash instead of being cut where two could collide."""
    name = f"pe-{resource_name}-{group_id.lower()}"
    return _fit(name, MAX_NAME, f"{resource_id or resource_name}|{group_id.lower()}")


def vnet_link_name(vnet_id: str) -> str:
    """A private DNS zone's link to a VNet: `link-{vnet name}-{hash of the VNet's ARM ID}`.

    The VNet's name alone is not unique (VNets of one name live in other resource groups and
    subscriptions), so the hash of its full ID is always part of the name."""
    vnet_name = vnet_id.rstrip("/").split("/")[-1]
    suffix = id_hash(vnet_id)
    head = _clean(f"link-{vnet_name}")[: MAX_NAME - _HASH_CHARS - 1]
    return f"{_clean(head)}-{suffix}"


def zone_config_name(zone: str) -> str:
    """A zone group's entry for a zone: the zone name with dots as hyphens, as the portal does."""
    return zone.replace(".", "-")


def arm_id(subscription_id: str, resource_group: str, resource_type: str, name: str) -> str:
    """The ARM ID a resource will have, e.g. for reporting what a dry run would create."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{resource_type}/{name}"
