"""Microsoft.Authorization: built-in role definitions and role assignments at any ARM scope.

What azure-mgmt-authorization 4.0.0 (api-version 2022-04-01) calls: role definitions list (with
`$filter=roleName eq '…'`) / get / get_by_id, role assignments create / get / delete /
list_for_scope (and list_for_subscription, list_for_resource_group, list_for_resource, which are the
same URL shape) and the `*_by_id` variants. A scope is any ARM ID, so the routes use `{scope:path}`.

Azure's directory is emulated just enough for what bites a pipeline that assigns roles to an
identity it has just made:
- PrincipalNotFound: for `identity.principal_not_found_seconds` after a principal is created (the
  registry `/sandbox/principals/{id}` in `world.meta`, written by providers that mint identities),
  a create without `principalType` fails, because ARM looks the principal up in a directory replica
  that has not seen it yet; with `principalType` ARM skips the look-up (unless the fault switch
  `principal_not_found_even_with_type` is on). Principals nobody knows fail the same way, forever.
- Eventual consistency: an assignment shows in lists only `assignment_visible_after_seconds` after
  it was made; get by name and the duplicate check see it at once.
- A repeated PUT: the same name with the same role and principal is an update that changes
  nothing (200), as ARM's "create or update" answers it (REST spec 2022-04-01 lists 200 and 201;
  Microsoft's docs call a role assignment with a fixed name idempotent; an Azure CLI engineer
  repeated one with a fixed name without error, Azure/azure-cli#23770). 409 `RoleAssignmentExists`
  is the same (scope, role, principal) under another name; another role or principal under the
  same name is 400 `RoleAssignmentUpdateNotPermitted`.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import (
    ArmError,
    ArmRequest,
    ArmResponse,
    Router,
    bad_request,
    not_found,
    paged,
    parse_resource_id,
)
from plmigrate.sandbox.world import World, key

# Microsoft.Authorization's versions of the two types: the lists ARM itself gave in its refusals
# (InvalidResourceType, pasted in Azure/azure-sdk-for-go#16699 and Azure/azure-cli#18289; note
# 2020-10-01-preview is absent though the specs have it) plus the later 2022-04-01, which
# azure-mgmt-authorization 4.0.0 sends for both. Location-less: other versions get 404.
API_VERSIONS: dict[str, Served] = {
    "Microsoft.Authorization/roleAssignments": served(
        "2014-04-01-preview",
        "2014-07-01-preview",
        "2014-10-01-preview",
        "2015-05-01-preview",
        "2015-06-01",
        "2015-07-01",
        "2016-07-01",
        "2017-05-01",
        "2017-09-01",
        "2017-10-01-preview",
        "2018-01-01-preview",
        "2018-07-01",
        "2018-09-01-preview",
        "2018-12-01-preview",
        "2019-04-01-preview",
        "2020-03-01-preview",
        "2020-04-01-preview",
        "2020-08-01-preview",
        "2021-04-01-preview",
        "2022-01-01-preview",
        "2022-04-01",
        routing="locationless",
    ),
    "Microsoft.Authorization/roleDefinitions": served(
        "2014-04-01-preview",
        "2014-07-01-preview",
        "2014-10-01-preview",
        "2015-05-01-preview",
        "2015-06-01",
        "2015-07-01",
        "2016-07-01",
        "2017-05-01",
        "2017-09-01",
        "2018-01-01-preview",
        "2018-07-01",
        "2022-04-01",
        "2022-05-01-preview",
        routing="locationless",
    ),
}


ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"
ASSIGNMENTS = "/providers/Microsoft.Authorization/roleAssignments"
DEFINITIONS = "/providers/Microsoft.Authorization/roleDefinitions"
PRINCIPALS = "/sandbox/principals/"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_BLOB = "Microsoft.Storage/storageAccounts/blobServices"

# The built-in roles plmigrate (and a person reading the sandbox) may ask for: GUID -> (name,
# description, actions, notActions, dataActions). The GUIDs are Azure's, the same in every tenant.
BUILT_IN_ROLES: dict[str, tuple[str, str, list[str], list[str], list[str]]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": (
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        ["*"],
        [],
        [],
    ),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": (
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, "
        "manage assignments in Azure Blueprints, or share image galleries.",
        ["*"],
        [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
        ],
        [],
    ),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": (
        "Reader",
        "View all resources, but does not allow you to make any changes.",
        ["*/read"],
        [],
        [],
    ),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": (
        "User Access Administrator",
        "Lets you manage user access to Azure resources.",
        ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        [],
        [],
    ),
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": (
        "Storage Blob Data Contributor",
        "Allows for read, write and delete access to Azure Storage blob containers and data",
        [
            f"{_BLOB}/containers/delete",
            f"{_BLOB}/containers/read",
            f"{_BLOB}/containers/write",
            f"{_BLOB}/generateUserDelegationKey/action",
        ],
        [],
        [
            f"{_BLOB}/containers/blobs/delete",
            f"{_BLOB}/containers/blobs/read",
            f"{_BLOB}/containers/blobs/write",
            f"{_BLOB}/containers/blobs/move/action",
            f"{_BLOB}/containers/blobs/add/action",
        ],
    ),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": (
        "Storage Blob Data Owner",
        "Allows for full access to Azure Storage blob containers and data, including assigning POSIX access control.",
        [f"{_BLOB}/containers/*", f"{_BLOB}/generateUserDelegationKey/action"],
        [],
        [f"{_BLOB}/containers/blobs/*"],
    ),
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": (
        "Storage Blob Data Reader",
        "Allows for read access to Azure Storage blob containers and data",
        [f"{_BLOB}/containers/read", f"{_BLOB}/generateUserDelegationKey/action"],
        [],
        [f"{_BLOB}/containers/blobs/read"],
    ),
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": (
        "Storage Account Contributor",
        "Lets you manage storage accounts, including accessing storage account keys which provide full access "
        "to storage account data.",
        ["Microsoft.Storage/storageAccounts/*", "Microsoft.Resources/subscriptions/resourceGroups/read"],
        [],
        [],
    ),
    "4d97b98b-1d4f-4787-a291-c67834d212e7": (
        "Network Contributor",
        "Lets you manage networks, but not access to them.",
        ["Microsoft.Network/*", "Microsoft.Resources/subscriptions/resourceGroups/read"],
        [],
        [],
    ),
}


def _stamp(seconds: float | None = None) -> str:
    moment = time.time() if seconds is None else seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1_000_000):06d}0Z"


def _scope(raw: str) -> str:
    """A scope as ARM writes it: one leading slash, no trailing one ("/" is the root)."""
    return "/" + raw.strip("/")


def _subscription_of(world: World, scope: str) -> str:
    return parse_resource_id(scope).get("subscription", world.scenario.subscription_id)


# -- role definitions ----------------------------------------------------------------------------
def definition_id(subscription_id: str | None, guid: str) -> str:
    prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
    return f"{prefix}{DEFINITIONS}/{guid}"


def role_definition(guid: str, subscription_id: str | None) -> dict[str, Any]:
    name, description, actions, not_actions, data_actions = BUILT_IN_ROLES[guid.lower()]
    return {
        "id": definition_id(subscription_id, guid.lower()),
        "name": guid.lower(),
        "type": DEFINITION_TYPE,
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "description": description,
            "assignableScopes": ["/"],
            "permissions": [
                {"actions": actions, "notActions": not_actions, "dataActions": data_actions, "notDataActions": []}
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def role_guid(role_definition_id: str) -> str:
    """The GUID of a role definition given as a GUID or as any form of its ID."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _role_missing(guid: str) -> ArmError:
    return bad_request("RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist.")


def get_definition(req: ArmRequest) -> ArmResponse:
    guid = req.params["roleDefinitionId"].lower()
    if guid not in BUILT_IN_ROLES:
        raise ArmError(
            404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist."
        )
    scope = _scope(req.params.get("scope", "/"))
    sub = parse_resource_id(scope).get("subscription")
    return ArmResponse(200, role_definition(guid, sub))


_ROLE_FILTER = re.compile(r"^\s*(roleName|type)\s+eq\s+'(.*)'\s*$", re.IGNORECASE)


def list_definitions(req: ArmRequest) -> ArmResponse:
    scope = _scope(req.params.get("scope", "/"))
    sub = parse_resource_id(scope).get("subscription")
    found = [role_definition(guid, sub) for guid in BUILT_IN_ROLES]
    raw_filter = req.query.get("$filter", "").strip()
    if raw_filter:
        match = _ROLE_FILTER.match(raw_filter)
        if not match:
            raise bad_request(
                "UnsupportedQuery",
                f"The filter '{raw_filter}' is not supported. Supported filters are 'roleName eq '{{value}}'' "
                "or 'type eq 'BuiltInRole|CustomRole''.",
            )
        field = "roleName" if match.group(1).lower() == "rolename" else "type"
        wanted = match.group(2).replace("''", "'").lower()
        found = [d for d in found if d["properties"][field].lower() == wanted]
    return paged(req, found)


# -- principals -----------------------------------------------------------------------------------
def principal_key(principal_id: str) -> str:
    """Where the principal registry keeps a principal's facts (see `register_principal`)."""
    return PRINCIPALS + principal_id


def register_principal(world: World, principal_id: str, display_name: str, kind: str = "ServicePrincipal") -> None:
    """Record a principal the directory just made; PrincipalNotFound is timed from here."""
    world.meta_of(principal_key(principal_id)).update(
        {"created_at": world.now(), "kind": kind, "display_name": display_name}
    )


def _principal_facts(world: World, principal_id: str) -> dict[str, Any] | None:
    with world.lock:
        facts = world.meta.get(key(principal_key(principal_id)))
        return dict(facts) if facts else None


def _seeded_principal_type(world: World, principal_id: str) -> str | None:
    for seed in world.scenario.role_assignments:
        if seed.principal_id.lower() == principal_id.lower():
            return seed.principal_type
    return None


def _check_principal(world: World, principal_id: str, principal_type: str | None) -> str:
    """The principal's type as ARM records it, or PrincipalNotFound as ARM's directory look-up fails."""
    identity = world.scenario.identity
    if principal_id.lower() == world.scenario.principal_id.lower():
        return principal_type or "ServicePrincipal"
    facts = _principal_facts(world, principal_id)
    if facts is not None:
        fresh = world.now() - float(facts.get("created_at", 0)) < identity.principal_not_found_seconds
        if fresh and (not principal_type or identity.principal_not_found_even_with_type):
            raise _principal_not_found(world, principal_id)
        return principal_type or facts.get("kind", "ServicePrincipal")
    seeded = _seeded_principal_type(world, principal_id)
    if seeded is not None:
        return principal_type or seeded
    if not principal_type:
        raise _principal_not_found(world, principal_id)
    return principal_type


def _principal_not_found(world: World, principal_id: str) -> ArmError:
    return bad_request(
        "PrincipalNotFound",
        f"Principal {principal_id} does not exist in the directory {world.scenario.tenant_id}. Check that you have "
        "the correct principal ID. If you are creating this principal and then immediately assigning a role, this "
        "error might be related to a replication delay. In this case, set the role assignment principalType "
        "property to a value, such as ServicePrincipal, User, or Group. See https://aka.ms/docs-principaltype",
    )


# -- role assignments -----------------------------------------------------------------------------
def assignment_id(scope: str, name: str) -> str:
    return f"{'' if scope == '/' else scope}{ASSIGNMENTS}/{name}"


def _require_scope(world: World, scope: str) -> None:
    """A resource scope must exist; subscription and resource group scopes are taken as given."""
    parsed = parse_resource_id(scope)
    if scope == "/" or parsed.get("type") in {
        "Microsoft.Resources/subscriptions",
        "Microsoft.Resources/resourceGroups",
    }:
        return
    if not world.exists(scope):
        raise not_found(scope)


def _all_assignments(world: World) -> list[dict[str, Any]]:
    return world.by_type(ASSIGNMENT_TYPE)


def _visible(world: World, assignment: dict[str, Any]) -> bool:
    created = float(world.meta_of(assignment["id"]).get("created_at", 0))
    return world.now() - created >= world.scenario.identity.assignment_visible_after_seconds


def make_assignment(
    world: World, scope: str, name: str, role_id: str, principal_id: str, principal_type: str, created_by: str
) -> dict[str, Any]:
    now = _stamp()
    return {
        "id": assignment_id(scope, name),
        "name": name,
        "type": ASSIGNMENT_TYPE,
        "properties": {
            "roleDefinitionId": role_id,
            "principalId": principal_id,
            "principalType": principal_type,
            "scope": scope,
            "condition": None,
            "conditionVersion": None,
            "createdOn": now,
            "updatedOn": now,
            "createdBy": created_by,
            "updatedBy": created_by,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
    }


def _canonical_role_id(world: World, scope: str, raw: str) -> str:
    guid = role_guid(raw)
    if guid not in BUILT_IN_ROLES:
        raise _role_missing(guid)
    return definition_id(_subscription_of(world, scope), guid)


def put_assignment(req: ArmRequest) -> ArmResponse:
    world = req.world
    scope = _scope(req.params.get("scope", "/"))
    name = req.params["roleAssignmentName"]
    props = req.json_body().get("properties") or {}
    role_raw, principal_id = props.get("roleDefinitionId"), props.get("principalId")
    principal_type = props.get("principalType") or None
    if not _GUID.match(name):
        raise bad_request(
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    if not role_raw or not principal_id:
        raise bad_request(
            "InvalidRequestContent",
            "The request content must give properties.roleDefinitionId and properties.principalId.",
        )
    if not _GUID.match(str(principal_id)):
        raise bad_request("InvalidPrincipalId", "A valid principal ID must be provided for role assignment.")
    with world.lock:
        _require_scope(world, scope)
        role_id = _canonical_role_id(world, scope, role_raw)
        guid = role_guid(role_id)
        existing = world.get(assignment_id(scope, name))
        if existing is not None:
            old = existing["properties"]
            if role_guid(old["roleDefinitionId"]) != guid or old["principalId"].lower() != principal_id.lower():
                raise bad_request(
                    "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                )
            # The same assignment again: an update that changes nothing.
            return ArmResponse(200, existing)
        recorded_type = _check_principal(world, principal_id, principal_type)
        for other in _all_assignments(world):
            p = other["properties"]
            if (
                key(p["scope"]) == key(scope)
                and role_guid(p["roleDefinitionId"]) == guid
                and p["principalId"].lower() == principal_id.lower()
            ):
                raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        assignment = make_assignment(world, scope, name, role_id, principal_id, recorded_type, req.principal_id)
        stored = world.put(assignment)
        world.meta_of(stored["id"])["created_at"] = world.now()
    return ArmResponse(201, stored)


def get_assignment(req: ArmRequest) -> ArmResponse:
    scope = _scope(req.params.get("scope", "/"))
    name = req.params["roleAssignmentName"]
    found = req.world.get(assignment_id(scope, name))
    if found is None:
        raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
    return ArmResponse(200, found)


def delete_assignment(req: ArmRequest) -> ArmResponse:
    scope = _scope(req.params.get("scope", "/"))
    removed = req.world.delete(assignment_id(scope, req.params["roleAssignmentName"]))
    if removed is None:
        return ArmResponse(204)
    return ArmResponse(200, removed)


_PRINCIPAL_FILTER = re.compile(r"^(?:principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))$", re.IGNORECASE)


def _parse_assignment_filter(raw: str) -> tuple[bool, str | None]:
    """(atScope, principal ID) from a `$filter` such as `atScope() and principalId eq '…'`."""
    at_scope, principal = False, None
    for term in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE) if raw.strip() else []:
        term = term.strip()
        match = _PRINCIPAL_FILTER.match(term)
        if term.replace(" ", "").lower() == "atscope()":
            at_scope = True
        elif match:
            principal = (match.group(1) or match.group(2) or "").lower()
        else:
            raise bad_request(
                "UnsupportedQuery",
                f"The filter '{raw}' is not supported. Supported filters are either 'atScope()' or "
                "'principalId eq '{value}'' or 'assignedTo('{value}')'.",
            )
    return at_scope, principal


def list_assignments(req: ArmRequest) -> ArmResponse:
    """At, above and below the scope; `atScope()` keeps at and above; `principalId eq` narrows."""
    world = req.world
    scope = _scope(req.params.get("scope", "/"))
    at_scope, principal = _parse_assignment_filter(req.query.get("$filter", ""))
    here = key(scope)
    found = []
    for assignment in _all_assignments(world):
        theirs = key(assignment["properties"]["scope"])
        above_or_at = theirs in {"", here} or here.startswith(theirs + "/")
        below = here == "" or theirs.startswith(here + "/")
        if not (above_or_at or (below and not at_scope)):
            continue
        if principal and assignment["properties"]["principalId"].lower() != principal:
            continue
        if _visible(world, assignment):
            found.append(assignment)
    return paged(req, found)


def register(router: Router) -> None:
    for prefix in ("{scope:path}", ""):
        router.add("GET", prefix + DEFINITIONS, list_definitions)
        router.add("GET", prefix + DEFINITIONS + "/{roleDefinitionId}", get_definition)
        router.add("GET", prefix + ASSIGNMENTS, list_assignments)
        router.add("PUT", prefix + ASSIGNMENTS + "/{roleAssignmentName}", put_assignment)
        router.add("GET", prefix + ASSIGNMENTS + "/{roleAssignmentName}", get_assignment)
        router.add("DELETE", prefix + ASSIGNMENTS + "/{roleAssignmentName}", delete_assignment)


def seed(world: World) -> None:
    """The scenario's existing assignments, made long ago (visible, their principals replicated)."""
    for seed_row in world.scenario.role_assignments:
        scope = _scope(seed_row.scope)
        guid = role_guid(seed_row.role_definition_id)
        if guid not in BUILT_IN_ROLES:
            raise ValueError(
                f"scenario role assignment on {scope}: unknown role definition {seed_row.role_definition_id}"
            )
        role_id = definition_id(_subscription_of(world, scope), guid)
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key(scope)}|{guid}|{seed_row.principal_id.lower()}"))
        assignment = make_assignment(
            world, scope, name, role_id, seed_row.principal_id, seed_row.principal_type, world.scenario.principal_id
        )
        world.put(assignment)
        world.meta_of(assignment["id"])["created_at"] = 0.0
