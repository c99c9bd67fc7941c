"""Microsoft.Storage: storage accounts, their blob service properties and private endpoint connections.

What the pipeline needs from storage, as ARM does it (paths, methods and LRO styles read from
azure-mgmt-storage 25.3.0):
- accounts: PUT answers 202 + `Location` (the SDK polls it until 200 with the account), GET, PATCH,
  DELETE, list per subscription and per resource group, and `checkNameAvailability`;
- `blobServices/default`: GET / PUT (delete retention, read by the soft-delete rule);
- `privateEndpointConnections`: list / get / put (approve or reject) / delete, mirrored onto the
  private endpoint through `plmigrate.sandbox.connections`.

Hidden per-account fact in `world.meta_of(account_id)`: `principal_may_approve` (scenario seed; the
network provider reads it to decide Approved vs Pending for new endpoints, and a connection PUT by our
principal is refused with 403 without it).
"""

from __future__ import annotations

import re
import time
from typing import Any

from plmigrate.regions import normalize_region
from plmigrate.sandbox import connections, lro
from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router, bad_request, paged
from plmigrate.sandbox.providers.resources import group_id, require_group
from plmigrate.sandbox.scenario import StorageAccountSeed
from plmigrate.sandbox.world import World

# Microsoft.Storage's stable versions (storage specs' readme tags); 2026-09-01 is azure-mgmt-storage
# 25.3.0's default, 2025-06-01 the official examples'.
_STORAGE = served(
    "2023-01-01",
    "2023-04-01",
    "2023-05-01",
    "2024-01-01",
    "2025-01-01",
    "2025-06-01",
    "2025-08-01",
    "2026-04-01",
    "2026-06-01",
    "2026-09-01",
)
API_VERSIONS: dict[str, Served] = {
    "Microsoft.Storage/storageAccounts": _STORAGE,
    "Microsoft.Storage/checkNameAvailability": _STORAGE,
}


ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
ACCOUNTS_IN_SUB = "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/storageAccounts"
ACCOUNTS_IN_GROUP = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts"
)
ACCOUNT = ACCOUNTS_IN_GROUP + "/{accountName}"
BLOB_SERVICES = ACCOUNT + "/blobServices"
BLOB_SERVICE = ACCOUNT + "/blobServices/{blobServicesName}"
CONNECTIONS = ACCOUNT + "/privateEndpointConnections"
CONNECTION = CONNECTIONS + "/{privateEndpointConnectionName}"
CHECK_NAME = "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/checkNameAvailability"

APPROVAL_ACTION = "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action"
_NAME = re.compile(r"^[a-z0-9]{3,24}$")

# Computed by the service; ignored when a client sends them back (read-modify-write sends everything).
_READ_ONLY = {
    "provisioningState",
    "primaryEndpoints",
    "secondaryEndpoints",
    "primaryLocation",
    "secondaryLocation",
    "statusOfPrimary",
    "statusOfSecondary",
    "creationTime",
    "keyCreationTime",
    "lastGeoFailoverTime",
    "geoReplicationStats",
    "privateEndpointConnections",
    "blobRestoreStatus",
    "failoverInProgress",
    "accountMigrationInProgress",
    "isSkuConversionBlocked",
    "storageAccountSkuConversionStatus",
}
# Only settable at creation: a PATCH carrying them is ignored for these (the SDK's update model
# has no such fields).
_CREATE_ONLY = {"isHnsEnabled", "dnsEndpointType", "isNfsV3Enabled"}

# Azure's region pairs, for the secondary of geo-redundant SKUs (only the regions plmigrate knows).
_PAIRS = {
    "eastus": "westus",
    "westus": "eastus",
    "eastus2": "centralus",
    "centralus": "eastus2",
    "westus2": "westcentralus",
    "westcentralus": "westus2",
    "westus3": "eastus",
    "northcentralus": "southcentralus",
    "southcentralus": "northcentralus",
    "northeurope": "westeurope",
    "westeurope": "northeurope",
    "uksouth": "ukwest",
    "ukwest": "uksouth",
    "francecentral": "francesouth",
    "germanywestcentral": "germanynorth",
    "switzerlandnorth": "switzerlandwest",
    "norwayeast": "norwaywest",
    "swedencentral": "swedensouth",
    "eastasia": "southeastasia",
    "southeastasia": "eastasia",
    "japaneast": "japanwest",
    "japanwest": "japaneast",
    "koreacentral": "koreasouth",
    "centralindia": "southindia",
    "southindia": "centralindia",
    "australiaeast": "australiasoutheast",
    "australiasoutheast": "australiaeast",
    "canadacentral": "canadaeast",
    "canadaeast": "canadacentral",
    "brazilsouth": "southcentralus",
    "uaenorth": "uaecentral",
    "southafricanorth": "southafricawest",
}

_SERVICES_BY_KIND = {
    "StorageV2": ("dfs", "web", "blob", "file", "queue", "table"),
    "Storage": ("dfs", "web", "blob", "file", "queue", "table"),  # as StorageAccountCreate.json shows them
    "BlobStorage": ("dfs", "blob", "table"),
    "BlockBlobStorage": ("dfs", "web", "blob"),
    "FileStorage": ("file",),
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())


def account_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{ACCOUNT_TYPE}/{name}"


def blob_fqdn(name: str) -> str:
    """The public blob FQDN of an account (what a blob private endpoint's customDnsConfigs name)."""
    return f"{name}.blob.core.windows.net"


def find_by_name(world: World, name: str) -> dict[str, Any] | None:
    """An account anywhere in the world by its (globally unique) name."""
    for account in world.by_type(ACCOUNT_TYPE):
        if account["name"].lower() == name.lower():
            return account
    return None


def sku_block(name: str) -> dict[str, str]:
    return {"name": name, "tier": "Premium" if name.lower().startswith("premium") else "Standard"}


def network_acls(given: dict[str, Any] | None) -> dict[str, Any]:
    """A network rule set as the service stores it: every list present, defaults filled.

    A PATCH replaces the whole rule set (what is not sent is gone), which is why callers must
    read-modify-write to add the trusted-services bypass without losing IP and VNet rules.
    """
    given = given or {}
    bypass = given.get("bypass")
    acls: dict[str, Any] = {
        "bypass": ", ".join(p.strip() for p in bypass.split(",")) if bypass else "AzureServices",
        "virtualNetworkRules": [
            {"id": rule["id"], "action": rule.get("action") or "Allow", "state": "Succeeded"}
            for rule in given.get("virtualNetworkRules") or []
        ],
        "ipRules": [
            {"value": rule["value"], "action": rule.get("action") or "Allow"} for rule in given.get("ipRules") or []
        ],
        "defaultAction": given.get("defaultAction") or "Allow",
    }
    if given.get("resourceAccessRules"):
        acls["resourceAccessRules"] = [
            {"tenantId": r.get("tenantId"), "resourceId": r.get("resourceId")} for r in given["resourceAccessRules"]
        ]
    return acls


def _encryption(given: dict[str, Any] | None, previous: dict[str, Any] | None) -> dict[str, Any]:
    given = given or {}
    previous = previous or {}
    services: dict[str, Any] = {}
    for name in ("blob", "file"):
        before = (previous.get("services") or {}).get(name) or {}
        asked = (given.get("services") or {}).get(name) or {}
        services[name] = {
            "keyType": asked.get("keyType") or before.get("keyType") or "Account",
            "enabled": True,
            "lastEnabledTime": before.get("lastEnabledTime") or _now(),
        }
    out: dict[str, Any] = {"services": services, "keySource": given.get("keySource") or previous.get("keySource")}
    out["keySource"] = out["keySource"] or "Microsoft.Storage"
    infra = given.get("requireInfrastructureEncryption", previous.get("requireInfrastructureEncryption"))
    if infra is not None:
        out["requireInfrastructureEncryption"] = infra
    return out


def _computed(name: str, location: str, kind: str, sku: str, routing: dict[str, Any] | None) -> dict[str, Any]:
    """What the service fills in: endpoints (with the routing-preference ones it publishes),
    locations, status."""
    services = _SERVICES_BY_KIND.get(kind, _SERVICES_BY_KIND["StorageV2"])
    endpoints: dict[str, Any] = {s: f"https://{name}.{s}.core.windows.net/" for s in services}
    routing = routing or {}
    if routing.get("publishMicrosoftEndpoints"):
        endpoints["microsoftEndpoints"] = {
            s: f"https://{name}-microsoftrouting.{s}.core.windows.net/" for s in services
        }
    if routing.get("publishInternetEndpoints"):
        # Queue and table have no internet-routing endpoints.
        endpoints["internetEndpoints"] = {
            s: f"https://{name}-internetrouting.{s}.core.windows.net/" for s in services if s not in {"queue", "table"}
        }
    props: dict[str, Any] = {
        "primaryEndpoints": endpoints,
        "primaryLocation": location,
        "statusOfPrimary": "available",
        "accountMigrationInProgress": False,
        "isSkuConversionBlocked": False,
    }
    upper = sku.upper()
    if "GRS" in upper or "GZRS" in upper:
        secondary = _PAIRS.get(location)
        if secondary:
            props["secondaryLocation"] = secondary
            props["statusOfSecondary"] = "available"
        if "RAG" in upper:
            props["secondaryEndpoints"] = {
                s: f"https://{name}-secondary.{s}.core.windows.net/" for s in services if s != "file"
            }
    return props


def _writable(properties: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (properties or {}).items() if k not in _READ_ONLY and v is not None}


def build_account(
    rid: str,
    name: str,
    location: str,
    kind: str,
    sku: str,
    properties: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A new account as ARM returns it (StorageAccountCreate.json's response shape)."""
    given = _writable(properties)
    now = _now()
    props: dict[str, Any] = {
        "keyCreationTime": {"key1": now, "key2": now},
        "privateEndpointConnections": [],
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": True,
        "supportsHttpsTrafficOnly": True,
        "isHnsEnabled": False,
        "creationTime": now,
        "provisioningState": "Succeeded",
    }
    if kind in {"StorageV2", "BlobStorage"}:
        props["accessTier"] = "Hot"
    props.update(given)
    props["networkAcls"] = network_acls(given.get("networkAcls"))
    props["encryption"] = _encryption(given.get("encryption"), None)
    props.update(_computed(name, location, kind, sku, props.get("routingPreference")))
    body: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": ACCOUNT_TYPE,
        "kind": kind,
        "location": location,
        "sku": sku_block(sku),
        "tags": dict(tags or {}),
        "properties": props,
    }
    return body


# Kind upgrades Azure performs in place (to general-purpose v2); every other kind change is refused.
_KIND_UPGRADES = {("Storage", "StorageV2"), ("BlobStorage", "StorageV2")}


def _redundancy(sku: str) -> tuple[str, bool, bool, bool]:
    """(tier, zonal, geo, read access) of a SKU name such as `Standard_RAGZRS`."""
    tier, _, kind = sku.partition("_")
    kind = kind.upper()
    return tier.lower(), "Z" in kind, "G" in kind, kind.startswith("RA")


def sku_change_allowed(old: str, new: str) -> bool:
    """Whether Azure changes an account's SKU in place: never across tiers (Standard/Premium), and
    one redundancy step at a time: geo (LRS/GRS/RA-GRS, ZRS/GZRS/RA-GZRS) or zonal (LRS<->ZRS,
    GRS<->GZRS, RA-GRS<->RA-GZRS, a customer-initiated conversion), not both at once."""
    if old.lower() == new.lower():
        return True
    old_tier, old_zonal, old_geo, old_ra = _redundancy(old)
    new_tier, new_zonal, new_geo, new_ra = _redundancy(new)
    if old_tier != new_tier:
        return False
    if old_tier == "premium":
        return not (old_geo or new_geo)  # Premium is LRS or ZRS only
    return old_zonal == new_zonal or (old_geo, old_ra) == (new_geo, new_ra)


def check_update(account: dict[str, Any], update: dict[str, Any]) -> None:
    """Refuse what Azure refuses about an update to an existing account (PUT or PATCH), as the
    storage RP words it: a SKU change it cannot make in place, a kind change other than the
    upgrade to StorageV2."""
    sku = (update.get("sku") or {}).get("name")
    if sku and not sku_change_allowed(account["sku"]["name"], sku):
        raise bad_request("InvalidValuesForRequestParameters", "Values for request parameters are invalid: sku.")
    kind = update.get("kind")
    if kind and kind != account["kind"] and (account["kind"], kind) not in _KIND_UPGRADES:
        raise bad_request("InvalidValuesForRequestParameters", "Values for request parameters are invalid: kind.")


def apply_update(account: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """PATCH semantics of the storage RP: sku, kind and tags replace; each property given replaces
    that property (networkAcls as a whole); properties not given stay."""
    if update.get("sku"):
        account["sku"] = sku_block(update["sku"]["name"])
    if update.get("kind"):
        account["kind"] = update["kind"]
    if update.get("tags") is not None:
        account["tags"] = dict(update["tags"])
    if update.get("identity") is not None:
        account["identity"] = update["identity"]
    props = account["properties"]
    given = {k: v for k, v in _writable(update.get("properties")).items() if k not in _CREATE_ONLY}
    for k, v in given.items():
        if k == "networkAcls":
            props[k] = network_acls(v)
        elif k == "encryption":
            props[k] = _encryption(v, props.get("encryption"))
        else:
            props[k] = v
    props.update(
        _computed(
            account["name"],
            account["location"],
            account["kind"],
            account["sku"]["name"],
            props.get("routingPreference"),
        )
    )
    props["provisioningState"] = "Succeeded"
    return account


def render(world: World, account: dict[str, Any], expand: str = "") -> dict[str, Any]:
    """The account as a GET shows it: with its live private endpoint connections, and with
    geo-replication statistics when `$expand=geoReplicationStats` asks for them."""
    props = account["properties"]
    props["privateEndpointConnections"] = connections.for_target(world, account["id"])
    if "georeplicationstats" in expand.lower() and "secondaryLocation" in props:
        props["geoReplicationStats"] = {"status": "Live", "lastSyncTime": _now()[:19] + "Z", "canFailover": True}
    return account


def _name_error(name: str) -> ArmError:
    return ArmError(
        400,
        "AccountNameInvalid",
        f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
        "characters in length and use numbers and lower-case letters only.",
    )


def _ids(req: ArmRequest) -> tuple[str, str, str]:
    """(subscription, resource group as stored, account ID) of the request; the group must exist."""
    sub = req.params["subscriptionId"]
    group = require_group(req)
    return sub, group["name"], account_id(sub, group["name"], req.params["accountName"])


def _require_account(req: ArmRequest) -> dict[str, Any]:
    _, _, rid = _ids(req)
    return req.world.require(rid)


def _require_parent(req: ArmRequest, child_type: str, action: str) -> dict[str, Any]:
    """The account a child resource lives under, or ARM's ParentResourceNotFound."""
    _, _, rid = _ids(req)
    account = req.world.get(rid)
    if account is None:
        raise ArmError(
            404,
            "ParentResourceNotFound",
            f"Failed to perform '{action}' on resource(s) of type 'storageAccounts/{child_type}', "
            f"because the parent resource '{rid}' could not be found.",
        )
    return account


# -- accounts ------------------------------------------------------------------------------------
def create_account(req: ArmRequest) -> ArmResponse:
    # ARM's front door checks the resource group before the storage RP sees the name.
    _, group, rid = _ids(req)
    name = req.params["accountName"]
    if not _NAME.match(name):
        raise _name_error(name)
    body = req.json_body()
    for required in ("sku", "kind"):
        if not body.get(required):
            raise bad_request(
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: 'Required property '{required}' "
                "not found in JSON.'",
            )
    if not body.get("location"):
        raise bad_request("LocationRequired", "The location property is required for this definition.")
    location = normalize_region(body["location"])
    with req.world.lock:
        taken = find_by_name(req.world, name)
        if taken is not None and taken["id"].lower() != rid.lower():
            raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.")
        if taken is not None:
            lro.refuse_if_busy(req, taken["id"], code="StorageAccountOperationInProgress")
            if taken["location"] != location:
                raise ArmError(
                    409,
                    "InvalidResourceLocation",
                    f"The resource '{name}' already exists in location '{taken['location']}' in resource group "
                    f"'{group}'. A resource with the same name cannot be created in location '{location}'. "
                    "Please select a new resource name.",
                )
            # Creating what exists updates it, synchronously.
            check_update(taken, body)
            stored = req.world.put(apply_update(taken, body))
            return ArmResponse(200, render(req.world, stored))
        account = build_account(
            rid, name, location, body["kind"], body["sku"]["name"], body.get("properties"), body.get("tags")
        )
        for optional in ("identity", "extendedLocation"):
            if body.get(optional):
                account[optional] = body[optional]
        req.world.put(account)
        req.world.put(build_blob_service(rid))
        req.world.meta_of(rid).setdefault("principal_may_approve", True)
    # The operation's result is the account (read live at the end); ARM's 202 itself has no body.
    response = lro.accepted(req, 202, account, style="location", resource_id=rid, in_progress="Creating")
    response.body = None
    # ARM always advises a wait; 0 lets the client's own polling interval apply unless latency is set.
    response.headers.setdefault("Retry-After", "0")
    return response


def get_account(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, render(req.world, _require_account(req), req.query.get("$expand", "")))


def update_account(req: ArmRequest) -> ArmResponse:
    body = req.json_body()
    with req.world.lock:
        account = _require_account(req)
        lro.refuse_if_busy(req, account["id"], code="StorageAccountOperationInProgress")
        check_update(account, body)
        stored = req.world.put(apply_update(account, body))
    return ArmResponse(200, render(req.world, stored))


def delete_account(req: ArmRequest) -> ArmResponse:
    _, _, rid = _ids(req)
    with req.world.lock:
        if not req.world.exists(rid):
            return ArmResponse(204)
        # Endpoints that pointed here keep their connection, now Disconnected.
        for record in connections.for_target(req.world, rid):
            connections.mark_disconnected(req.world, rid, record["name"])
        req.world.delete(rid)
    return ArmResponse(200)


def list_in_subscription(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    found = req.world.by_type(ACCOUNT_TYPE, f"/subscriptions/{sub}")
    return paged(req, [render(req.world, a) for a in found])


def list_in_group(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    group = require_group(req)
    found = req.world.by_type(ACCOUNT_TYPE, group_id(sub, group["name"]))
    return paged(req, [render(req.world, a) for a in found])


def check_name(req: ArmRequest) -> ArmResponse:
    name = str(req.json_body().get("name", ""))
    if not _NAME.match(name):
        return ArmResponse(
            200, {"nameAvailable": False, "reason": "AccountNameInvalid", "message": _name_error(name).message}
        )
    if find_by_name(req.world, name) is not None:
        return ArmResponse(
            200,
            {
                "nameAvailable": False,
                "reason": "AlreadyExists",
                "message": f"The storage account named {name} is already taken.",
            },
        )
    return ArmResponse(200, {"nameAvailable": True})


# -- blob service properties -----------------------------------------------------------------------
def _retention(days: int) -> dict[str, Any]:
    if days > 0:
        return {"allowPermanentDelete": False, "enabled": True, "days": days}
    return {"allowPermanentDelete": False, "enabled": False}


def build_blob_service(rid: str, soft_delete_days: int = 0) -> dict[str, Any]:
    return {
        "id": f"{rid}/blobServices/default",
        "name": "default",
        "type": f"{ACCOUNT_TYPE}/blobServices",
        "properties": {
            "cors": {"corsRules": []},
            "deleteRetentionPolicy": _retention(soft_delete_days),
            "containerDeleteRetentionPolicy": {"enabled": False},
        },
    }


def _blob_service_view(world: World, account: dict[str, Any]) -> dict[str, Any]:
    service = world.get(f"{account['id']}/blobServices/default") or build_blob_service(account["id"])
    # The service shows the account's SKU, which a PATCH of the account may have changed.
    return {**service, "sku": dict(account["sku"])}


def _require_default(req: ArmRequest) -> None:
    if req.params["blobServicesName"].lower() != "default":
        raise bad_request(
            "InvalidResourceName",
            f"The resource name '{req.params['blobServicesName']}' is invalid. Blob service name must be 'default'.",
        )


def get_blob_service(req: ArmRequest) -> ArmResponse:
    _require_default(req)
    account = _require_parent(req, "blobServices", "read")
    return ArmResponse(200, _blob_service_view(req.world, account))


def set_blob_service(req: ArmRequest) -> ArmResponse:
    """PUT merges per property: what the request leaves out keeps its setting, as the service does."""
    _require_default(req)
    body = req.json_body()
    with req.world.lock:
        account = _require_parent(req, "blobServices", "write")
        service = req.world.get(f"{account['id']}/blobServices/default") or build_blob_service(account["id"])
        for k, v in (body.get("properties") or {}).items():
            if v is None:
                continue
            if k in {"deleteRetentionPolicy", "containerDeleteRetentionPolicy"}:
                policy = {"allowPermanentDelete": False} if k == "deleteRetentionPolicy" else {}
                policy["enabled"] = bool(v.get("enabled"))
                if policy["enabled"] and v.get("days") is not None:
                    policy["days"] = int(v["days"])
                if k == "deleteRetentionPolicy" and v.get("allowPermanentDelete") is not None:
                    policy["allowPermanentDelete"] = bool(v["allowPermanentDelete"])
                service["properties"][k] = policy
            else:
                service["properties"][k] = v
        req.world.put(service)
    return ArmResponse(200, _blob_service_view(req.world, account))


def list_blob_services(req: ArmRequest) -> ArmResponse:
    account = _require_parent(req, "blobServices", "read")
    return paged(req, [_blob_service_view(req.world, account)])


# -- private endpoint connections ------------------------------------------------------------------
def list_connections(req: ArmRequest) -> ArmResponse:
    account = _require_parent(req, "privateEndpointConnections", "read")
    return paged(req, connections.for_target(req.world, account["id"]))


def get_connection(req: ArmRequest) -> ArmResponse:
    account = _require_parent(req, "privateEndpointConnections", "read")
    return ArmResponse(
        200, req.world.require(connections.connection_id(account["id"], req.params["privateEndpointConnectionName"]))
    )


def put_connection(req: ArmRequest) -> ArmResponse:
    """Approve or reject as our principal: only where the scenario lets it approve on this account."""
    body = req.json_body()
    name = req.params["privateEndpointConnectionName"]
    with req.world.lock:
        account = _require_parent(req, "privateEndpointConnections", "write")
        rid = account["id"]
        existing = req.world.require(connections.connection_id(rid, name))
        if not req.world.meta_of(rid).get("principal_may_approve", True):
            principal = req.principal_id
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
                f"action '{APPROVAL_ACTION}' over scope '{rid}' or the scope is invalid. If access was recently "
                "granted, please refresh your credentials.",
            )
        state = (body.get("properties") or {}).get("privateLinkServiceConnectionState") or {}
        current = existing["properties"]["privateLinkServiceConnectionState"]
        status = state.get("status") or current["status"]
        if status not in {"Pending", "Approved", "Rejected"}:
            raise bad_request(
                "InvalidPrivateEndpointConnectionStatus",
                f"Status '{status}' cannot be set on a private endpoint connection; use Approved or Rejected.",
            )
        description = state.get("description")
        record = connections.set_state(
            req.world, rid, name, status, current["description"] if description is None else description
        )
    return ArmResponse(200, record)


def delete_connection(req: ArmRequest) -> ArmResponse:
    name = req.params["privateEndpointConnectionName"]
    with req.world.lock:
        account = _require_parent(req, "privateEndpointConnections", "delete")
        if not req.world.exists(connections.connection_id(account["id"], name)):
            return ArmResponse(204)
        connections.mark_disconnected(req.world, account["id"], name)
    return ArmResponse(200)


def register(router: Router) -> None:
    router.add("PUT", ACCOUNT, create_account, lro=True)
    router.add("GET", ACCOUNT, get_account)
    router.add("PATCH", ACCOUNT, update_account)
    router.add("DELETE", ACCOUNT, delete_account)
    router.add("GET", ACCOUNTS_IN_SUB, list_in_subscription)
    router.add("GET", ACCOUNTS_IN_GROUP, list_in_group)
    router.add("POST", CHECK_NAME, check_name)
    router.add("GET", BLOB_SERVICES, list_blob_services)
    router.add("GET", BLOB_SERVICE, get_blob_service)
    router.add("PUT", BLOB_SERVICE, set_blob_service)
    router.add("GET", CONNECTIONS, list_connections)
    router.add("GET", CONNECTION, get_connection)
    router.add("PUT", CONNECTION, put_connection)
    router.add("DELETE", CONNECTION, delete_connection)


def seed_account(world: World, seed: StorageAccountSeed) -> dict[str, Any]:
    sub = world.scenario.subscription_id
    group = world.get(group_id(sub, seed.resource_group))
    rid = account_id(sub, group["name"] if group else seed.resource_group, seed.name)
    rules = seed.network_rules
    properties = {
        "networkAcls": {
            "bypass": rules.bypass,
            "defaultAction": rules.default_action,
            "ipRules": [{"value": ip, "action": "Allow"} for ip in rules.ip_rules],
            "virtualNetworkRules": [{"id": subnet, "action": "Allow"} for subnet in rules.virtual_network_rules],
        }
    }
    account = world.put(build_account(rid, seed.name, normalize_region(seed.location), seed.kind, seed.sku, properties))
    world.put(build_blob_service(rid, seed.blob_soft_delete_days))
    world.meta_of(rid)["principal_may_approve"] = seed.principal_may_approve
    return account


def seed(world: World) -> None:
    for account in world.scenario.storage_accounts:
        seed_account(world, account)
