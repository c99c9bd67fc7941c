"""Microsoft.RecoveryServices: vaults (with system-assigned identities) and their private link resources.

What azure-mgmt-recoveryservices 4.3.0 calls: vaults PUT (201/200 + Azure-AsyncOperation), PATCH (202
with Azure-AsyncOperation and Location, then a GET), DELETE (202 + Location, 204 when gone), GET and
the two lists; `privateLinkResources` list and get.

A vault's private endpoint connections are not stored on the vault: they live in
`plmigrate.sandbox.connections` (the network provider writes them when an endpoint is made) and are
folded into `properties.privateEndpointConnections` on every read, so the vault always shows the
connections' current state. Hidden facts kept in `world.meta_of(vault_id)`: `numeric_id`, the
vault's numeric ID that Site Recovery puts in its FQDNs and connection names. Identities minted here
are recorded as principals (`authorization.register_principal`) for the authorization provider's
PrincipalNotFound window.
"""

from __future__ import annotations

import random
import time
from typing import Any

from plmigrate.regions import GEO_CODES, normalize_region
from plmigrate.sandbox import connections, lro
from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router, bad_request, not_found, paged
from plmigrate.sandbox.providers.authorization import register_principal
from plmigrate.sandbox.providers.resources import require_group
from plmigrate.sandbox.world import World

# Recovery Services vault versions (RecoveryServices specs' readme tags); 2026-11-01 is
# azure-mgmt-recoveryservices 4.3.0's default, 2025-08-01 the official examples'. Site Recovery's
# types under a vault have their own table (siterecovery/routes.py).
API_VERSIONS: dict[str, Served] = {
    "Microsoft.RecoveryServices/vaults": served(
        "2023-04-01",
        "2023-06-01",
        "2023-08-01",
        "2024-01-01",
        "2024-02-01",
        "2024-04-01",
        "2024-10-01",
        "2025-01-01",
        "2025-02-01",
        "2025-08-01",
        "2026-01-01",
        "2026-02-01",
        "2026-05-01",
        "2026-07-01",
        "2026-08-01",
        "2026-11-01",
    ),
}


VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
VAULTS = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.RecoveryServices/vaults"
)
VAULT = VAULTS + "/{vaultName}"

SITE_RECOVERY_MEMBERS = [
    "siteRecovery-rcm1",
    "siteRecovery-prot2",
    "siteRecovery-prot2b",
    "siteRecovery-tel1",
    "siteRecovery-srs1",
    "siteRecovery-id1",
]
BACKUP_MEMBERS = [
    "backup-fab1",
    "backup-rec2",
    "backup-prot1",
    "backup-ecs1",
    "backup-tel1",
    "backup-wbcm1",
    "backup-fc1",
    "backup-id1",
]


def vault_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{VAULT_TYPE}/{name}"


def _etag() -> str:
    stamp = time.strftime("%Y-%m-%dT%H%%3A%M%%3A%SZ", time.gmtime())
    return f"W/\"datetime'{stamp}'\""


def _sku(requested: dict[str, Any] | None, existing: dict[str, Any] | None) -> dict[str, Any]:
    # ARM answers the request's "Standard" as {"name": "RS0", "tier": "Standard"} (PUTVault.json).
    if not requested:
        return existing or {"name": "RS0", "tier": "Standard"}
    name = requested.get("name", "RS0")
    if name.lower() in {"standard", "rs0"}:
        return {"name": "RS0", "tier": "Standard"}
    return {k: v for k, v in requested.items() if v is not None}


def _identity(
    world: World, requested: dict[str, Any] | None, existing: dict[str, Any] | None, display_name: str
) -> dict[str, Any] | None:
    """The vault's identity after a write: a system-assigned principal is minted once and kept."""
    if requested is None:
        return existing
    kind = str(requested.get("type") or "None")
    if kind.replace(" ", "").lower() == "none":
        return None
    out: dict[str, Any] = {"type": kind}
    if "systemassigned" in kind.replace(" ", "").lower():
        if existing and existing.get("principalId"):
            out["principalId"] = existing["principalId"]
            out["tenantId"] = existing["tenantId"]
        else:
            principal_id = world.new_guid()
            out["principalId"] = principal_id
            out["tenantId"] = world.scenario.tenant_id
            register_principal(world, principal_id, display_name)
    user_assigned = requested.get("userAssignedIdentities")
    if user_assigned:
        known = (existing or {}).get("userAssignedIdentities") or {}
        out["userAssignedIdentities"] = {
            uid: known.get(uid) or {"principalId": world.new_guid(), "clientId": world.new_guid()}
            for uid in user_assigned
        }
    return out


def _vault_body(
    req: ArmRequest, body: dict[str, Any], existing: dict[str, Any] | None, *, patch: bool
) -> dict[str, Any]:
    sub, group, name = req.params["subscriptionId"], req.params["resourceGroupName"], req.params["vaultName"]
    world = req.world
    if existing is None:
        location = body.get("location")
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        rg = require_group(req, group)
        resource_id = vault_id(sub, rg["name"], name)
        vault: dict[str, Any] = {
            "id": resource_id,
            "name": name,
            "type": VAULT_TYPE,
            "location": normalize_region(location),
            "tags": {},
            "sku": _sku(None, None),
            "properties": {
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Enabled",
                "privateEndpointStateForBackup": "None",
                "privateEndpointStateForSiteRecovery": "None",
                "redundancySettings": {
                    "standardTierStorageRedundancy": "GeoRedundant",
                    "crossRegionRestore": "Disabled",
                },
                "monitoringSettings": {
                    "azureMonitorAlertSettings": {
                        "alertsForAllJobFailures": "Enabled",
                        "alertsForAllReplicationIssues": "Enabled",
                        "alertsForAllFailoverIssues": "Enabled",
                    },
                    "classicAlertSettings": {
                        "alertsForCriticalOperations": "Disabled",
                        "emailNotificationsForSiteRecovery": "Enabled",
                    },
                },
                "securitySettings": {
                    "immutabilitySettings": {"state": "Disabled"},
                    "softDeleteSettings": {
                        "softDeleteRetentionPeriodInDays": 14,
                        "softDeleteState": "Enabled",
                        "enhancedSecurityState": "Enabled",
                    },
                    "multiUserAuthorization": "Disabled",
                    "sourceScanConfiguration": {
                        "state": "Disabled",
                        "sourceScanIdentity": {"operationIdentityType": "SystemAssigned"},
                    },
                },
                "secureScore": "None",
                "bcdrSecurityLevel": "Poor",
                "moveState": "Unknown",
                "backupStorageVersion": "V2",
            },
        }
    else:
        location = body.get("location")
        if location and normalize_region(location) != existing["location"]:
            # Location sticks with the first creation, as ARM insists.
            raise ArmError(
                400,
                "InvalidResourceLocation",
                f"The resource '{existing['name']}' already exists in location '{existing['location']}' in resource "
                f"group '{group}'. A resource with the same name cannot be created in location "
                f"'{normalize_region(location)}'. Please select a new resource name.",
            )
        vault = existing
        vault["properties"].pop("privateEndpointConnections", None)
    if "tags" in body and body["tags"] is not None:
        vault["tags"] = dict(body["tags"]) if not patch else {**vault.get("tags", {}), **body["tags"]}
    if body.get("sku") or existing is None:
        vault["sku"] = _sku(body.get("sku"), vault.get("sku"))
    identity = _identity(world, body.get("identity"), vault.get("identity"), vault["name"])
    if identity is None:
        vault.pop("identity", None)
    else:
        vault["identity"] = identity
    for field, value in (body.get("properties") or {}).items():
        if field in {"provisioningState", "privateEndpointConnections", "privateEndpointStateForBackup"}:
            continue  # read-only
        if field in {"privateEndpointStateForSiteRecovery", "secureScore", "bcdrSecurityLevel", "moveState"}:
            continue
        if value is not None:
            vault["properties"][field] = value
    vault["properties"]["provisioningState"] = "Succeeded"
    vault["etag"] = _etag()
    return vault


def view(world: World, vault: dict[str, Any]) -> dict[str, Any]:
    """The vault as a GET shows it: its private endpoint connections folded in, live."""
    shown = dict(vault)
    props = dict(vault.get("properties") or {})
    found = connections.for_target(world, vault["id"])
    groups = {g.lower() for c in found for g in c["properties"].get("groupIds") or []}
    props["privateEndpointStateForSiteRecovery"] = "Enabled" if "azuresiterecovery" in groups else "None"
    props["privateEndpointStateForBackup"] = "Enabled" if "azurebackup" in groups else "None"
    if found:
        props["privateEndpointConnections"] = [
            {
                "id": c["id"],
                "name": c["name"],
                "type": c["type"],
                "location": vault["location"],
                "properties": c["properties"],
            }
            for c in found
        ]
    else:
        props.pop("privateEndpointConnections", None)
    shown["properties"] = props
    return shown


def _path_id(req: ArmRequest) -> str:
    return vault_id(req.params["subscriptionId"], req.params["resourceGroupName"], req.params["vaultName"])


def require_vault(req: ArmRequest) -> dict[str, Any]:
    found = req.world.get(_path_id(req))
    if found is None:
        # ARM checks the group first.
        require_group(req)
        raise not_found(_path_id(req))
    return found


def put_vault(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    world = req.world
    with world.lock:
        existing = world.get(_path_id(req))
        vault = _vault_body(req, body, existing, patch=False)
        if existing is None:
            # Site Recovery's numeric vault ID: the 2nd part of its endpoint connection names and
            # the prefix of its FQDNs (the network provider reads it from here).
            world.meta_of(vault["id"])["numeric_id"] = str(random.randint(10**18, 9 * 10**18))
        stored = world.put(vault)
    return lro.accepted(req, 200 if existing else 201, view(world, stored), resource_id=stored["id"])


def patch_vault(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    world = req.world
    with world.lock:
        existing = require_vault(req)
        stored = world.put(_vault_body(req, body, existing, patch=True))
    return lro.accepted(req, 202, None, style="both", resource_id=stored["id"])


def get_vault(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, view(req.world, require_vault(req)))


def delete_vault(req: ArmRequest) -> ArmResponse:
    if not req.world.exists(_path_id(req)):
        return ArmResponse(204)
    req.world.delete(_path_id(req))
    return lro.accepted(req, 202, None, style="location")


def list_vaults_in_group(req: ArmRequest) -> ArmResponse:
    rg = require_group(req)
    sub = req.params["subscriptionId"]
    scope = f"/subscriptions/{sub}/resourceGroups/{rg['name']}"
    return paged(req, [view(req.world, v) for v in req.world.by_type(VAULT_TYPE, scope)])


def list_vaults_in_subscription(req: ArmRequest) -> ArmResponse:
    scope = f"/subscriptions/{req.params['subscriptionId']}"
    return paged(req, [view(req.world, v) for v in req.world.by_type(VAULT_TYPE, scope)])


def private_link_resources(vault: dict[str, Any]) -> list[dict[str, Any]]:
    """The two groups a vault offers for private endpoints (ListPrivateLinkResources.json)."""
    geo = GEO_CODES.get(vault["location"], vault["location"])
    groups = [
        (
            "backupResource",
            "AzureBackup",
            BACKUP_MEMBERS,
            [
                f"privatelink.{geo}.backup.windowsazure.com",
                "privatelink.queue.core.windows.net",
                "privatelink.blob.core.windows.net",
            ],
        ),
        (
            "siteRecoveryResource",
            "AzureSiteRecovery",
            SITE_RECOVERY_MEMBERS,
            ["privatelink.siterecovery.windowsazure.com"],
        ),
    ]
    return [
        {
            "id": f"{vault['id']}/privateLinkResources/{name}",
            "name": name,
            "type": VAULT_TYPE + "/privateLinkResources",
            "properties": {"groupId": group, "requiredMembers": list(members), "requiredZoneNames": list(zones)},
        }
        for name, group, members, zones in groups
    ]


def list_private_link_resources(req: ArmRequest) -> ArmResponse:
    return paged(req, private_link_resources(require_vault(req)))


def get_private_link_resource(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    wanted = req.params["privateLinkResourceName"].lower()
    for resource in private_link_resources(vault):
        if resource["name"].lower() == wanted:
            return ArmResponse(200, resource)
    raise not_found(f"{vault['id']}/privateLinkResources/{req.params['privateLinkResourceName']}")


def register(router: Router) -> None:
    router.add("PUT", VAULT, put_vault, lro=True)
    router.add("PATCH", VAULT, patch_vault, lro=True)
    router.add("DELETE", VAULT, delete_vault, lro=True)
    router.add("GET", VAULT, get_vault)
    router.add("GET", VAULTS, list_vaults_in_group)
    router.add(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.RecoveryServices/vaults",
        list_vaults_in_subscription,
    )
    router.add("GET", VAULT + "/privateLinkResources", list_private_link_resources)
    router.add("GET", VAULT + "/privateLinkResources/{privateLinkResourceName}", get_private_link_resource)


def seed(world: World) -> None:
    # The scenario format seeds no vaults: plmigrate creates the vault itself.
    pass
