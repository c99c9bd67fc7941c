"""The Site Recovery REST surface under a vault, as azure-mgmt-recoveryservicessiterecovery 2.0.0 calls it.

Reads: fabrics, protection containers (per fabric and vault-wide), container mappings, policies,
appliances, Recovery Services providers, protected items (per container and vault-wide), jobs
(`$filter`). Writes (each a job; 202 with `Azure-AsyncOperation` = `{vault}/replicationOperationStatus/
{job}` and `Location` = `{vault}/replicationOperationResults/{job}`): protected item PUT (enable),
PATCH (update), DELETE (purge) and the POST actions testFailover, testFailoverCleanup,
unplannedFailover, failoverCommit, remove, repairReplication. Lists page at 100 with `nextLink`.
"""

from __future__ import annotations

import uuid
from typing import Any

from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmError, ArmRequest, ArmResponse, Router, not_found, page_window, paged
from plmigrate.sandbox.providers import offazure
from plmigrate.sandbox.providers.recoveryservices import VAULT, require_vault
from plmigrate.sandbox.providers.siterecovery import clock, errors, infra, items, jobs
from plmigrate.sandbox.world import key

FABRICS = VAULT + "/replicationFabrics"
FABRIC = FABRICS + "/{fabricName}"
CONTAINERS = FABRIC + "/replicationProtectionContainers"
CONTAINER = CONTAINERS + "/{containerName}"
ITEMS = CONTAINER + "/replicationProtectedItems"
ITEM = ITEMS + "/{itemName}"

# Site Recovery's versions (recoveryservicessiterecovery specs' readme tags): 2025-08-01 is
# azure-mgmt-recoveryservicessiterecovery 2.0.0's default and SITE_RECOVERY_API_VERSION, 2026-05-01
# the official examples'. Its types under a vault are served at these, not at the vault's.
_SITE_RECOVERY = served(
    "2023-08-01",
    "2024-01-01",
    "2024-02-01",
    "2024-04-01",
    "2024-10-01",
    "2025-01-01",
    "2025-02-01",
    "2025-08-01",
    "2026-05-01",
)
API_VERSIONS: dict[str, Served] = {
    f"Microsoft.RecoveryServices/vaults/{child}": _SITE_RECOVERY
    for child in (
        "replicationFabrics",
        "replicationPolicies",
        "replicationProtectionContainers",
        "replicationProtectionContainerMappings",
        "replicationProtectedItems",
        "replicationAppliances",
        "replicationRecoveryServicesProviders",
        "replicationJobs",
        "replicationOperationStatus",
        "replicationOperationResults",
    )
}


# -- lookups -------------------------------------------------------------------------------------
def _child(req: ArmRequest, parent_id: str, collection: str, name: str) -> dict[str, Any]:
    found = req.world.get(f"{parent_id}/{collection}/{name}")
    if found is None:
        raise not_found(f"{parent_id}/{collection}/{name}")
    return found


def _fabric(req: ArmRequest) -> dict[str, Any]:
    return _child(req, require_vault(req)["id"], "replicationFabrics", req.params["fabricName"])


def _container(req: ArmRequest) -> dict[str, Any]:
    return _child(req, _fabric(req)["id"], "replicationProtectionContainers", req.params["containerName"])


def _item_id(req: ArmRequest) -> str:
    return items.item_id(_container(req)["id"], req.params["itemName"])


def _accepted(req: ArmRequest, job: dict[str, Any]) -> ArmResponse:
    vault_id = items.vault_of(job["id"])
    qs = f"?api-version={req.api_version or '2025-08-01'}"
    headers = {
        "Azure-AsyncOperation": f"{req.base_url}{vault_id}/replicationOperationStatus/{job['name']}{qs}",
        "Location": f"{req.base_url}{vault_id}/replicationOperationResults/{job['name']}{qs}",
    }
    return ArmResponse(202, None, headers | jobs.retry_headers(req.world, job["id"]))


# -- infrastructure reads --------------------------------------------------------------------------
def list_fabrics(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    return paged(req, [infra.fabric_view(req.world, f) for f in infra.fabrics(req.world, vault["id"])])


def get_fabric(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, infra.fabric_view(req.world, _fabric(req)))


def list_containers(req: ArmRequest) -> ArmResponse:
    return paged(req, _with_counts(req, req.world.children(_fabric(req)["id"], "replicationProtectionContainers")))


def list_vault_containers(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    found = [
        c
        for f in infra.fabrics(req.world, vault["id"])
        for c in req.world.children(f["id"], "replicationProtectionContainers")
    ]
    return paged(req, _with_counts(req, found))


def _with_counts(req: ArmRequest, containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for container in containers:
        container["properties"]["protectedItemCount"] = len(req.world.child_keys(container["id"], items.CHILD))
    return containers


def get_container(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, _with_counts(req, [_container(req)])[0])


def list_mappings(req: ArmRequest) -> ArmResponse:
    return paged(req, req.world.children(_container(req)["id"], "replicationProtectionContainerMappings"))


def get_mapping(req: ArmRequest) -> ArmResponse:
    return ArmResponse(
        200, _child(req, _container(req)["id"], "replicationProtectionContainerMappings", req.params["mappingName"])
    )


def list_vault_mappings(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    found = [
        m
        for f in infra.fabrics(req.world, vault["id"])
        for c in req.world.children(f["id"], "replicationProtectionContainers")
        for m in req.world.children(c["id"], "replicationProtectionContainerMappings")
    ]
    return paged(req, found)


def list_policies(req: ArmRequest) -> ArmResponse:
    return paged(req, req.world.children(require_vault(req)["id"], "replicationPolicies"))


def get_policy(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, _child(req, require_vault(req)["id"], "replicationPolicies", req.params["policyName"]))


def list_appliances(req: ArmRequest) -> ArmResponse:
    return paged(req, infra.appliances_view(req.world, require_vault(req)["id"]))


def _providers_view(req: ArmRequest, fabric: dict[str, Any]) -> list[dict[str, Any]]:
    found = req.world.children(fabric["id"], "replicationRecoveryServicesProviders")
    count = infra.protected_count(req.world, fabric["id"])
    for provider in found:
        provider["properties"]["protectedItemCount"] = count
        provider["properties"]["lastHeartBeat"] = clock.stamp(clock.now(req.world) - 30)
    return found


def list_providers(req: ArmRequest) -> ArmResponse:
    return paged(req, _providers_view(req, _fabric(req)))


def get_provider(req: ArmRequest) -> ArmResponse:
    fabric = _fabric(req)
    wanted = f"{fabric['id']}/replicationRecoveryServicesProviders/{req.params['providerName']}".lower()
    for provider in _providers_view(req, fabric):
        if provider["id"].lower() == wanted:
            return ArmResponse(200, provider)
    raise not_found(wanted)


def list_vault_providers(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    return paged(req, [p for f in infra.fabrics(req.world, vault["id"]) for p in _providers_view(req, f)])


# -- protected items -------------------------------------------------------------------------------
def _required(details: dict[str, Any], *fields: str) -> None:
    missing = [f for f in fields if not details.get(f)]
    if missing:
        raise errors.invalid_input(
            f"The enable protection input is missing {', '.join('providerSpecificDetails.' + f for f in missing)}."
        )


def create_item(req: ArmRequest) -> ArmResponse:
    world = req.world
    vault = require_vault(req)
    fabric = _fabric(req)
    container = _container(req)
    body = req.json_body()
    props = body.get("properties") or {}
    details = dict(props.get("providerSpecificDetails") or {})
    kind = details.get("instanceType")
    if kind not in items.KINDS:
        raise items.refuse_unknown_kind(kind)
    name = req.params["itemName"]
    rid = items.item_id(container["id"], name)
    fabric_kind = (fabric["properties"].get("customDetails") or {}).get("instanceType")
    appliance = infra.appliance_of(world, fabric["id"]) or fabric["properties"].get("friendlyName", fabric["name"])
    if kind == "InMageRcm":
        if fabric_kind != "InMageRcm":
            raise errors.invalid_input(
                f"The fabric '{fabric['name']}' ({fabric_kind}) does not support the InMageRcm replication provider."
            )
        _required(details, "fabricDiscoveryMachineId", "processServerId", "targetResourceGroupId")
        if not (details.get("disksDefault") or {}).get("logStorageAccountId") and not any(
            d.get("logStorageAccountId") for d in details.get("disksToInclude") or []
        ):
            raise errors.invalid_input(
                "The enable protection input needs providerSpecificDetails.disksDefault.logStorageAccountId "
                "(the cache storage account) or a logStorageAccountId for each of disksToInclude."
            )
        if details["processServerId"].lower() != infra.process_server_id(fabric["id"]).lower():
            raise ArmError(
                400,
                "InvalidProcessServerId",
                f"The process server '{details['processServerId']}' is not registered with the fabric "
                f"'{fabric['name']}'. Use the id of one of the fabric's customDetails.processServers.",
            )
    policy_id = props.get("policyId")
    policy = world.get(policy_id) if policy_id else None
    if policy_id and policy is None:
        raise ArmError(400, "PolicyNotFound", f"The replication policy '{policy_id}' does not exist in the vault.")
    if kind == "InMageRcm" and policy is None:
        raise errors.invalid_input("The enable protection input is missing properties.policyId.")
    with world.lock:
        existing = world.get(rid)
        if existing is not None:
            meta = items.settle(world, rid)
            if meta is not None and jobs.running(world, meta.get("job")):
                job = world.get(meta["job"]) or {"properties": {}}
                raise errors.in_progress(name, job["properties"].get("scenarioName", "EnableDr"), meta["job"])
            if meta is not None and meta["state"] != "EnablingFailed":
                raise ArmError(
                    409,
                    "ProtectionAlreadyEnabled",
                    f"Replication is already enabled for the item '{name}' (state {meta['state']}).",
                )
        machine = world.get(details.get("fabricDiscoveryMachineId") or "") if kind == "InMageRcm" else None
        protectable = world.get(props.get("protectableItemId") or "") if kind != "InMageRcm" else None
        friendly = (
            (machine or {}).get("properties", {}).get("displayName")
            or (protectable or {}).get("properties", {}).get("friendlyName")
            or details.get("vmName")
            or name
        )
        source = (machine or {}).get("properties", {}).get("sourceType", "")
        item_type = (
            "HyperVVirtualMachine"
            if kind != "InMageRcm"
            else "VmwareVirtualMachine"
            if source == "vmware"
            else "PhysicalMachine"
        )
        providers = items.child_refs(world, fabric["id"], "replicationRecoveryServicesProviders")
        stored = {
            "id": rid,
            "name": name,
            "type": items.ITEM_TYPE,
            "location": vault["location"],
            "properties": {
                "friendlyName": friendly,
                "protectedItemType": item_type,
                "protectableItemId": (
                    f"{container['id']}/replicationProtectableItems/{machine['name']}"
                    if machine
                    else props.get("protectableItemId")
                ),
                "recoveryServicesProviderId": providers[0]["id"] if providers else None,
                "primaryFabricFriendlyName": fabric["properties"].get("friendlyName", fabric["name"]),
                "primaryFabricProvider": "InMageRcmFabric" if kind == "InMageRcm" else fabric_kind,
                "recoveryFabricFriendlyName": "Microsoft Azure",
                "recoveryFabricId": "Microsoft Azure",
                "primaryProtectionContainerFriendlyName": container["properties"].get(
                    "friendlyName", container["name"]
                ),
                "recoveryProtectionContainerFriendlyName": "Microsoft Azure",
                "switchProviderState": "None",
                "switchProviderStateDescription": "None",
                "policyId": policy["id"] if policy else policy_id,
                "policyFriendlyName": (policy or {}).get("properties", {}).get("friendlyName"),
                "recoveryContainerId": "Microsoft Azure",
                "eventCorrelationId": str(uuid.uuid4()),
            },
        }
        world.put(stored)
        world.meta_of(rid).clear()
        world.meta_of(rid).update(
            items._new_meta(
                kind=kind,
                name=name,
                rid=rid,
                vault_id=vault["id"],
                fabric_id=fabric["id"],
                appliance=appliance,
                location=vault["location"],
                given=details,
            )
        )
        job = items.begin(
            world,
            rid,
            "enable",
            lro_fault=req.lro_fault,
            latency=req.latency,
            data={"revert": {"state": "EnablingFailed", "test_state": "None"}},
        )
    return _accepted(req, job)


def get_item(req: ArmRequest) -> ArmResponse:
    rid = _item_id(req)
    stored = req.world.get(rid)
    shown = items.view(req.world, stored) if stored is not None else None
    if shown is None:
        raise not_found(rid)
    return ArmResponse(200, shown)


def _page_of_views(req: ArmRequest, keys: list[str]) -> ArmResponse:
    """Page the stored items' keys (sorted) first, then bring only that page up to now: a page costs
    its 100 views whatever the container holds. An item whose removal completes as it is viewed
    drops out of its page."""
    with req.world.lock:
        window = [{"id": req.world.resources[k]["id"]} for k in page_window(req, keys) if k in req.world.resources]
    response = paged(req, window)
    cache: dict[str, Any] = {}
    stored = (req.world.get(ref["id"]) for ref in response.body["value"])
    shown = (items.view(req.world, i, cache) for i in stored if i is not None)
    response.body["value"] = [v for v in shown if v is not None]
    return response


def list_items(req: ArmRequest) -> ArmResponse:
    return _page_of_views(req, req.world.child_keys(_container(req)["id"], items.CHILD))


def list_vault_items(req: ArmRequest) -> ArmResponse:
    return _page_of_views(req, sorted(key(i["id"]) for i in items.vault_items(req.world, require_vault(req)["id"])))


def _action(operation: str, kind: str, before: Any) -> Any:
    """A POST action: allowed now, then the item's state as the job starts, then the job."""

    def handler(req: ArmRequest) -> ArmResponse:
        rid = _item_id(req)
        with req.world.lock:
            meta = items.check_allowed(req.world, rid, operation)
            body = req.body if isinstance(req.body, dict) else {}
            job = _start_action(req, rid, meta, kind, before, body.get("properties") or {})
        return _accepted(req, job)

    return handler


def _start_action(
    req: ArmRequest, rid: str, meta: dict[str, Any], kind: str, before: Any, props: dict[str, Any]
) -> dict[str, Any]:
    # What the item was before, so a cancelled job can put it back; the input, so a job can restart.
    revert = {"state": meta["state"], "test_state": meta.get("test_state", "None")}
    data = before(meta, props) | {"revert": revert, "props": props}
    return items.begin(req.world, rid, kind, lro_fault=req.lro_fault, latency=req.latency, data=data)


def _before_test_failover(meta: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    details = props.get("providerSpecificDetails") or {}
    meta["test_state"] = "InProgress"
    return {"network_id": details.get("networkId") or props.get("networkId")}


def _before_cleanup(meta: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    meta["test_state"] = "MarkedForDeletion"
    return {}


def _before_failover(meta: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    details = props.get("providerSpecificDetails") or {}
    meta["state"] = "UnplannedFailoverInProgress"
    shutdown = str(details.get("performShutdown", "")).lower() == "true" or (
        str(props.get("sourceSiteOperations", "")).lower() == "required"
    )
    return {"shutdown": shutdown}


def _before_commit(meta: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    meta["state"] = "CommitFailoverInProgress"
    return {}


def _before_remove(meta: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    meta["state_before_disable"] = meta["state"]
    meta["state"] = "DisablingProtection"
    return {"reason": props.get("disableProtectionReason", "NotSpecified")}


def _before_repair(meta: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {}


_UPDATE_FIELDS = {
    "recoveryAzureVMName": "targetVmName",
    "recoveryAzureVMSize": "targetVmSize",
    "selectedRecoveryAzureNetworkId": "targetNetworkId",
    "selectedTfoAzureNetworkId": "testNetworkId",
    "licenseType": "licenseType",
}
_UPDATABLE = (
    "targetVmName",
    "targetVmSize",
    "targetResourceGroupId",
    "targetAvailabilitySetId",
    "targetAvailabilityZone",
    "targetProximityPlacementGroupId",
    "targetBootDiagnosticsStorageAccountId",
    "targetNetworkId",
    "testNetworkId",
    "licenseType",
    "sqlServerLicenseType",
    "linuxLicenseType",
    "targetVmTags",
    "targetManagedDiskTags",
    "targetNicTags",
)


def update_item(req: ArmRequest) -> ArmResponse:
    rid = _item_id(req)
    props = req.json_body().get("properties") or {}
    details = props.get("providerSpecificDetails") or {}
    with req.world.lock:
        meta = items.settle(req.world, rid)
        if meta is None:
            raise not_found(rid)
        if jobs.running(req.world, meta.get("job")):
            job = req.world.get(meta["job"]) or {"properties": {}}
            raise errors.in_progress(meta["name"], job["properties"].get("scenarioName", "?"), meta["job"])
        if meta["state"] not in {"InitialReplicationInProgress", "Protected"} or meta.get("test_state") != "None":
            raise errors.not_allowed(
                "UpdateVmProperties", meta["name"], meta["state"], items.allowed_operations(meta, False)
            )
        changes: dict[str, Any] = {}
        for given, field in _UPDATE_FIELDS.items():
            if props.get(given) is not None:
                changes[field] = props[given]
        for field in _UPDATABLE:
            if details.get(field) is not None:
                changes[field] = details[field]
        nics = details.get("vmNics") or props.get("vmNics") or []
        if nics:
            first = nics[0]
            if first.get("targetSubnetName") or first.get("recoveryVMSubnetName"):
                changes["targetSubnetName"] = first.get("targetSubnetName") or first.get("recoveryVMSubnetName")
            if first.get("testSubnetName") or first.get("tfoVMSubnetName"):
                changes["testSubnetName"] = first.get("testSubnetName") or first.get("tfoVMSubnetName")
        job = items.begin(
            req.world, rid, "update", lro_fault=req.lro_fault, latency=req.latency, data={"changes": changes}
        )
    return _accepted(req, job)


def purge_item(req: ArmRequest) -> ArmResponse:
    rid = _item_id(req)
    with req.world.lock:
        meta = items.settle(req.world, rid)
        if meta is None:
            return ArmResponse(204)
        running = req.world.meta_of(meta["job"]) if meta.get("job") else {}
        if running and not running.get("applied") and running.get("kind") == "purge":
            job = req.world.require(meta["job"])
            return _accepted(req, job)
        if running and not running.get("applied"):
            # A forced purge wins over whatever was running: that job ends now, cancelled.
            jobs.cancel(req.world, meta["job"])
        meta["state"] = "DisablingProtection"
        job = items.begin(req.world, rid, "purge", lro_fault=req.lro_fault, latency=req.latency)
    return _accepted(req, job)


# -- protectable items ---------------------------------------------------------------------------
def _protectable(req: ArmRequest, container: dict[str, Any]) -> list[dict[str, Any]]:
    """What may be protected in a container: an InMageRcm container's discovered machines (named by
    their machine IDs' last segment), or the items a Hyper-V site registered."""
    world = req.world
    fabric_id = items.fabric_of(container["id"])
    appliance = infra.appliance_of(world, fabric_id)
    stored = world.children(container["id"], "replicationProtectableItems")
    if not appliance:
        return stored
    protected = {
        str(world.meta_of(i["id"]).get("input", {}).get("fabricDiscoveryMachineId", "")).lower(): i["id"]
        for i in items.container_items(world, container["id"])
    }
    providers = world.children(fabric_id, "replicationRecoveryServicesProviders")
    out = []
    for machine in offazure.machines_of(world, appliance, copy=False):
        item_id = protected.get(machine["id"].lower())
        agent = bool((machine["properties"].get("mobilityAgent") or {}).get("installed"))
        out.append(
            {
                "id": f"{container['id']}/replicationProtectableItems/{machine['name']}",
                "name": machine["name"],
                "type": infra.CONTAINER_TYPE + "/replicationProtectableItems",
                "properties": {
                    "friendlyName": machine["properties"]["displayName"],
                    "protectionStatus": "Protected" if item_id else "Unprotected",
                    "replicationProtectedItemId": item_id,
                    "recoveryServicesProviderId": providers[0]["id"] if providers else None,
                    "protectionReadinessErrors": [] if agent else ["The Mobility service agent is not installed."],
                    "supportedReplicationProviders": ["InMageRcm"],
                    "customDetails": {"instanceType": "ReplicationGroupDetails"},
                },
            }
        )
    return out


def list_protectable(req: ArmRequest) -> ArmResponse:
    return paged(req, _protectable(req, _container(req)))


def get_protectable(req: ArmRequest) -> ArmResponse:
    container = _container(req)
    wanted = f"{container['id']}/replicationProtectableItems/{req.params['protectableItemName']}".lower()
    for found in _protectable(req, container):
        if found["id"].lower() == wanted:
            return ArmResponse(200, found)
    raise not_found(wanted)


# -- jobs ----------------------------------------------------------------------------------------
def cancel_job(req: ArmRequest) -> ArmResponse:
    """Cancel a running job: it ends Cancelled and its item is put back as it was."""
    vault = require_vault(req)
    jid = jobs.job_id(vault["id"], req.params["jobName"])
    with req.world.lock:
        job = _child(req, vault["id"], "replicationJobs", req.params["jobName"])
        meta = req.world.meta_of(job["id"])
        if not jobs.running(req.world, jid) or meta.get("kind") in {"disable", "purge"}:
            raise ArmError(
                400,
                "JobNotCancellable",
                f"The job '{job['name']}' ({job['properties']['scenarioName']}, {job['properties']['state']}) "
                "cannot be cancelled now.",
            )
        jobs.cancel(req.world, jid)
        item = req.world.meta_of(meta["item_id"]) if req.world.exists(meta["item_id"]) else None
        if item is not None and item.get("job") == jid:
            item["job"] = None
            item.update(meta.get("data", {}).get("revert") or {})
    return ArmResponse(200, jobs.view(req.world, req.world.require(jid)))


_RESTARTABLE = {
    "test_failover": ("TestFailover", _before_test_failover),
    "test_cleanup": ("TestFailoverCleanup", _before_cleanup),
    "failover": ("UnplannedFailover", _before_failover),
    "commit": ("Commit", _before_commit),
    "disable": ("DisableProtection", _before_remove),
    "repair": ("RepairReplication", _before_repair),
}


def restart_job(req: ArmRequest) -> ArmResponse:
    """Restart a failed or cancelled job: the same work again on the same item, as a new job."""
    vault = require_vault(req)
    with req.world.lock:
        job = _child(req, vault["id"], "replicationJobs", req.params["jobName"])
        jobs.settle(req.world, job["id"])
        job = req.world.require(job["id"])
        meta = req.world.meta_of(job["id"])
        rid = meta.get("item_id", "")
        if job["properties"]["state"] not in {"Failed", "Cancelled"} or not req.world.exists(rid):
            raise ArmError(
                400,
                "JobNotRestartable",
                f"The job '{job['name']}' ({job['properties']['scenarioName']}, {job['properties']['state']}) "
                "cannot be restarted: only a failed or cancelled job of an existing item can.",
            )
        kind = meta["kind"]
        if kind == "enable":
            item = items.settle(req.world, rid)
            if item is None or item["state"] != "EnablingFailed":
                raise ArmError(400, "JobNotRestartable", f"The item '{rid}' is no longer waiting to be enabled.")
            item["state"] = "EnablingProtection"
            new = items.begin(req.world, rid, "enable", lro_fault=None, latency=0.0, data=meta.get("data"))
        elif kind in _RESTARTABLE:
            operation, before = _RESTARTABLE[kind]
            item = items.check_allowed(req.world, rid, operation)
            new = _start_action(req, rid, item, kind, before, (meta.get("data") or {}).get("props") or {})
        else:
            raise ArmError(400, "JobNotRestartable", f"A {job['properties']['scenarioName']} job cannot be restarted.")
    return ArmResponse(200, jobs.view(req.world, new))


def list_jobs(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    filter_text = req.query.get("$filter")
    found = []
    with req.world.lock:
        jobs.settle_due(req.world, vault["id"])
        narrowed = jobs.candidates(req.world, vault["id"], filter_text)
        if narrowed is None:  # a filter that does not parse: every job is checked, and refused as before
            narrowed = [key(r["id"]) for r in items.child_refs(req.world, vault["id"], "replicationJobs")]
        for k in narrowed:
            stored = req.world.resources.get(k)  # read, not copied: many are filtered out
            if stored is not None and jobs.matches(req.world, stored, filter_text):
                found.append(k)
        window = [{"id": req.world.resources[k]["id"]} for k in page_window(req, sorted(found))]
    # Filter and page the stored jobs, then copy and render only the page's.
    response = paged(req, window)
    response.body["value"] = [jobs.view(req.world, req.world.require(r["id"])) for r in response.body["value"]]
    return response


def get_job(req: ArmRequest) -> ArmResponse:
    vault = require_vault(req)
    job = _child(req, vault["id"], "replicationJobs", req.params["jobName"])
    return ArmResponse(200, jobs.view(req.world, job))


def operation_status(req: ArmRequest) -> ArmResponse:
    return jobs.operation_status(req, require_vault(req)["id"])


def operation_result(req: ArmRequest) -> ArmResponse:
    return jobs.operation_result(req, require_vault(req)["id"], lambda rid: items.render(req.world, rid))


def register(router: Router) -> None:
    router.add("GET", FABRICS, list_fabrics)
    router.add("GET", FABRIC, get_fabric)
    router.add("GET", CONTAINERS, list_containers)
    router.add("GET", CONTAINER, get_container)
    router.add("GET", VAULT + "/replicationProtectionContainers", list_vault_containers)
    router.add("GET", CONTAINER + "/replicationProtectionContainerMappings", list_mappings)
    router.add("GET", CONTAINER + "/replicationProtectionContainerMappings/{mappingName}", get_mapping)
    router.add("GET", VAULT + "/replicationProtectionContainerMappings", list_vault_mappings)
    router.add("GET", VAULT + "/replicationPolicies", list_policies)
    router.add("GET", VAULT + "/replicationPolicies/{policyName}", get_policy)
    router.add("GET", VAULT + "/replicationAppliances", list_appliances)
    router.add("GET", FABRIC + "/replicationRecoveryServicesProviders", list_providers)
    router.add("GET", FABRIC + "/replicationRecoveryServicesProviders/{providerName}", get_provider)
    router.add("GET", VAULT + "/replicationRecoveryServicesProviders", list_vault_providers)
    router.add("PUT", ITEM, create_item, lro=True)
    router.add("PATCH", ITEM, update_item, lro=True)
    router.add("DELETE", ITEM, purge_item, lro=True)
    router.add("GET", ITEM, get_item)
    router.add("GET", ITEMS, list_items)
    router.add("GET", VAULT + "/replicationProtectedItems", list_vault_items)
    actions = {
        "testFailover": ("TestFailover", "test_failover", _before_test_failover),
        "testFailoverCleanup": ("TestFailoverCleanup", "test_cleanup", _before_cleanup),
        "unplannedFailover": ("UnplannedFailover", "failover", _before_failover),
        "failoverCommit": ("Commit", "commit", _before_commit),
        "remove": ("DisableProtection", "disable", _before_remove),
        "repairReplication": ("RepairReplication", "repair", _before_repair),
    }
    for segment, (operation, kind, before) in actions.items():
        router.add("POST", ITEM + "/" + segment, _action(operation, kind, before), lro=True)
    router.add("GET", VAULT + "/replicationJobs", list_jobs)
    router.add("GET", VAULT + "/replicationJobs/{jobName}", get_job)
    router.add("POST", VAULT + "/replicationJobs/{jobName}/cancel", cancel_job, lro=True)
    router.add("POST", VAULT + "/replicationJobs/{jobName}/restart", restart_job, lro=True)
    router.add("GET", CONTAINER + "/replicationProtectableItems", list_protectable)
    router.add("GET", CONTAINER + "/replicationProtectableItems/{protectableItemName}", get_protectable)
    router.add("GET", VAULT + "/replicationOperationStatus/{jobName}", operation_status)
    router.add("GET", VAULT + "/replicationOperationResults/{jobName}", operation_result)
