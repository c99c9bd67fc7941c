"""Names plmigrate gives the resources it creates.

Every name is derived from the business unit and the resource it serves, never random, so a
re-run (or a run resumed after a crash) finds what an earlier run made instead of making a twin.
"""

from __future__ import annotations

import re

ZONE_GROUP = "default"  # one zone group per endpoint, as the portal names it


def _trim(name: str, limit: int) -> str:
    return name[:limit].rstrip("-._")


def endpoint_name(resource_name: str, group_id: str) -> str:
    """`pe-{resource}-{group}`, e.g. pe-stfinrepl01-blob (ARM allows 80 characters)."""
    return _trim(f"pe-{resource_name}-{group_id.lower()}", 80)


def vnet_link_name(vnet_name: str) -> str:
    """The private DNS zone's link to a VNet (ARM allows 80 characters)."""
    return _trim("link-" + re.sub(r"[^A-Za-z0-9-_.]", "-", vnet_name), 80)


def zone_config_name(zone: str) -> str:
    """A zone group's entry for a zone: the zone name with dots as hyphens, as the portal does."""
    return zone.replace(".", "-")


def arm_id(subscription_id: str, resource_group: str, resource_type: str, name: str) -> str:
    """The ARM ID a resource will have, e.g. for reporting what a dry run would create."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{resource_type}/{name}"
