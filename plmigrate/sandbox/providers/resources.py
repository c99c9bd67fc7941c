"""Microsoft.Resources: resource groups (create_or_update / get / check existence)."""

from __future__ import annotations

from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router, bad_request, not_found, paged
from plmigrate.sandbox.world import World

# ARM's own versions (Microsoft.Resources): the list ARM names in its InvalidApiVersionParameter
# (as pasted in Azure/azure-cli#31331, less its malformed '2014-04') plus 2025-03-01 and
# 2025-04-01 (azure-mgmt-resource 26's default). tasks/inspect.py reads a subscription at 2022-12-01.
RESOURCES_VERSIONS = served(
    "2013-03-01",
    "2014-01-01",
    "2014-02-26",
    "2014-04-01",
    "2014-04-01-preview",
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-07-01",
    "2016-09-01",
    "2017-03-01",
    "2017-05-01",
    "2017-05-10",
    "2017-06-01",
    "2017-08-01",
    "2017-12-01",
    "2018-01-01",
    "2018-02-01",
    "2018-05-01",
    "2018-06-01",
    "2018-07-01",
    "2018-08-01",
    "2018-09-01",
    "2018-11-01",
    "2019-03-01",
    "2019-05-01",
    "2019-05-10",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-09-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-05-01",
    "2020-06-01",
    "2020-07-01",
    "2020-08-01",
    "2020-09-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-01-01",
    "2022-03-01-preview",
    "2022-05-01",
    "2022-06-01",
    "2022-09-01",
    "2022-11-01-preview",
    "2022-12-01",
    "2023-03-01-preview",
    "2023-07-01",
    "2023-07-01-preview",
    "2024-03-01",
    "2024-06-01-preview",
    "2024-07-01",
    "2024-08-01",
    "2024-10-01-preview",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
    routing="arm",
)
API_VERSIONS: dict[str, Served] = {
    "Microsoft.Resources/resourceGroups": RESOURCES_VERSIONS,
    "Microsoft.Resources/subscriptions": RESOURCES_VERSIONS,
}


GROUP = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"


def group_id(subscription_id: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{name}"


def group_body(subscription_id: str, name: str, location: str, tags: dict[str, str] | None = None) -> dict:
    body = {
        "id": group_id(subscription_id, name),
        "name": name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": location.replace(" ", "").lower(),
        "properties": {"provisioningState": "Succeeded"},
    }
    if tags:
        body["tags"] = tags
    return body


def require_group(req: ArmRequest, name: str | None = None) -> dict:
    """The resource group of the request path, or ARM's ResourceGroupNotFound."""
    sub = req.params.get("subscriptionId", req.world.scenario.subscription_id)
    name = name or req.params["resourceGroupName"]
    found = req.world.get(group_id(sub, name))
    if found is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return found


def put_group(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    sub, name = req.params["subscriptionId"], req.params["resourceGroupName"]
    existing = req.world.get(group_id(sub, name))
    location = body.get("location") or (existing or {}).get("location")
    if not location:
        raise bad_request("LocationRequired", "The location property is required for this definition.")
    if existing is not None:
        # Name casing and location stick with the first creation, as in ARM.
        name = existing["name"]
        location = existing["location"]
    stored = req.world.put(group_body(sub, name, location, body.get("tags")))
    return ArmResponse(200 if existing else 201, stored)


def get_group(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, require_group(req))


def head_group(req: ArmRequest) -> ArmResponse:
    sub, name = req.params["subscriptionId"], req.params["resourceGroupName"]
    return ArmResponse(204 if req.world.exists(group_id(sub, name)) else 404)


def list_groups(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    return paged(req, req.world.by_type("Microsoft.Resources/resourceGroups", f"/subscriptions/{sub}"))


def get_subscription(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    if sub.lower() != req.world.scenario.subscription_id.lower():
        raise not_found(f"/subscriptions/{sub}")
    return ArmResponse(
        200,
        {
            "id": f"/subscriptions/{sub}",
            "subscriptionId": sub,
            "tenantId": req.world.scenario.tenant_id,
            "displayName": "plmigrate sandbox",
            "state": "Enabled",
        },
    )


def register(router: Router) -> None:
    router.add("PUT", GROUP, put_group)
    router.add("GET", GROUP, get_group)
    router.add("HEAD", GROUP, head_group)
    router.add("GET", "/subscriptions/{subscriptionId}/resourcegroups", list_groups)
    router.add("GET", "/subscriptions/{subscriptionId}", get_subscription)


def seed(world: World) -> None:
    sub = world.scenario.subscription_id
    for group in world.scenario.resource_groups:
        world.put(group_body(sub, group.name, group.location))
