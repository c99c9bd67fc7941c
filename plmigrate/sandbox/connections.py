"""Private endpoint connections: the one record both sides of a private link see.

ARM shows a connection twice: on the target (storage account or vault) as a child
`privateEndpointConnections/{name}`, and on the private endpoint inside
`privateLinkServiceConnections` or `manualPrivateLinkServiceConnections`. Every state change goes
through `set_state`, so both views always agree. Storage spells the state's third field
`actionRequired`, network and Recovery Services `actionsRequired`.
"""

from __future__ import annotations

from typing import Any

from plmigrate.sandbox.arm import ArmError, not_found, parse_resource_id
from plmigrate.sandbox.world import World, key

STATES = ("Pending", "Approved", "Rejected", "Disconnected")


def _actions_field(target_id: str) -> str:
    ns = parse_resource_id(target_id).get("namespace", "").lower()
    return "actionRequired" if ns == "microsoft.storage" else "actionsRequired"


def state_block(target_id: str, status: str, description: str, *, for_network: bool = False) -> dict[str, str]:
    field = "actionsRequired" if for_network else _actions_field(target_id)
    return {"status": status, "description": description, field: "None"}


def connection_id(target_id: str, connection_name: str) -> str:
    return f"{target_id}/privateEndpointConnections/{connection_name}"


def attach(
    world: World,
    target_id: str,
    *,
    connection_name: str,
    endpoint_id: str,
    group_ids: list[str],
    status: str,
    description: str,
    manual: bool,
) -> dict[str, Any]:
    """Record a new connection on the target; the caller writes the endpoint's side."""
    target = world.require(target_id)
    rtype = target["type"] + "/privateEndpointConnections"
    record = {
        "id": connection_id(target["id"], connection_name),
        "name": connection_name,
        "type": rtype,
        "properties": {
            "provisioningState": "Succeeded",
            "privateEndpoint": {"id": endpoint_id},
            "groupIds": list(group_ids),
            "privateLinkServiceConnectionState": state_block(target_id, status, description),
        },
    }
    world.put(record)
    world.meta_of(record["id"]).update({"endpoint_id": endpoint_id, "manual": manual})
    return record


def for_target(world: World, target_id: str) -> list[dict[str, Any]]:
    return world.children(target_id, "privateEndpointConnections")


def find_for_endpoint(world: World, target_id: str, endpoint_id: str) -> dict[str, Any] | None:
    for record in for_target(world, target_id):
        if key(record["properties"]["privateEndpoint"]["id"]) == key(endpoint_id):
            return record
    return None


def set_state(world: World, target_id: str, connection_name: str, status: str, description: str) -> dict[str, Any]:
    """Change a connection's state on the target and mirror it onto the endpoint."""
    if status not in STATES:
        raise ArmError(
            400, "InvalidPrivateEndpointConnectionStatus", f"Status '{status}' is not one of {', '.join(STATES)}."
        )
    with world.lock:
        cid = connection_id(target_id, connection_name)
        record = world.get(cid)
        if record is None:
            raise not_found(cid)
        record["properties"]["privateLinkServiceConnectionState"] = state_block(target_id, status, description)
        world.put(record)
        endpoint_id = record["properties"]["privateEndpoint"]["id"]
        endpoint = world.get(endpoint_id)
        if endpoint is not None:
            props = endpoint["properties"]
            for list_name in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
                for conn in props.get(list_name) or []:
                    if key(conn["properties"].get("privateLinkServiceId", "")) == key(target_id):
                        conn["properties"]["privateLinkServiceConnectionState"] = state_block(
                            target_id, status, description, for_network=True
                        )
            world.put(endpoint)
        return record


def detach(world: World, target_id: str, endpoint_id: str) -> None:
    """Remove the target's record of an endpoint (the endpoint was deleted)."""
    record = find_for_endpoint(world, target_id, endpoint_id)
    if record is not None:
        world.delete(record["id"])


def mark_disconnected(world: World, target_id: str, connection_name: str) -> dict[str, Any]:
    """The owner deleted the connection on the target: the endpoint keeps it, Disconnected."""
    record = set_state(world, target_id, connection_name, "Disconnected", "Removed by the resource owner")
    world.delete(record["id"])
    return record
