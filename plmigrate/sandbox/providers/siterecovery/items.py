"""Replication protected items: the per-server state machine, in Site Recovery's scaled time.

States (`protectionState`, best knowledge of Site Recovery's names; docs/sandbox.md):

    EnablingProtection --enable job--> InitialReplicationInProgress --(progress 0..100)--> Protected
          | job failed                       | stall fault: progress stops, health Critical,
          v                                  | resyncRequired; RepairReplication resumes it
    EnablingFailed (DisableProtection; a new PUT enables again)
    Protected --TestFailover--> testFailoverState InProgress -> WaitingForCompletion (test VM made)
              --TestFailoverCleanup--> MarkedForDeletion -> None (test VM deleted)
    Protected --UnplannedFailover--> UnplannedFailoverInProgress -> UnplannedFailoverCompleted
              (VM made in the target subnet, activeLocation Recovery; a failed failover: Protected)
              --Commit--> CommitFailoverInProgress -> CommitFailoverCompleted
    any --DisableProtection (POST /remove)--> DisablingProtection -> gone (404), the VM kept
    any --purge (DELETE)--> gone

`allowedOperations` is computed from the state on every read (empty while a job runs), and every
operation not in it is refused with ARM's error envelope. Hidden facts live in
`world.meta_of(item_id)`: see `_new_meta`. Initial replication advances only while the appliance's
process server is healthy (the vault's names resolve from on-prem DNS): its elapsed time is
accumulated between reads.
"""

from __future__ import annotations

import uuid
from typing import Any

from plmigrate.sandbox.arm import ArmError, not_found
from plmigrate.sandbox.providers import compute, network, offazure
from plmigrate.sandbox.providers.siterecovery import checks, clock, errors, infra, jobs
from plmigrate.sandbox.providers.siterecovery.errors import Problem
from plmigrate.sandbox.world import World, key

ITEM_TYPE = infra.CONTAINER_TYPE + "/replicationProtectedItems"
CHILD = "replicationProtectedItems"  # the items' collection under a container
KINDS = ("InMageRcm", "HyperVReplicaAzure")
STALL_AT = 0.37  # a stalled replication stops at 37 %

DESCRIPTIONS = {
    "EnablingProtection": "Enabling protection",
    "EnablingFailed": "Enabling protection failed",
    "InitialReplicationInProgress": "Initial replication in progress",
    "Protected": "Protected",
    "UnplannedFailoverInProgress": "Failover in progress",
    "UnplannedFailoverCompleted": "Failover completed",
    "CommitFailoverInProgress": "Commit in progress",
    "CommitFailoverCompleted": "Failover committed",
    "DisablingProtection": "Disabling protection",
}
TEST_DESCRIPTIONS = {
    "None": "None",
    "InProgress": "Test failover in progress",
    "WaitingForCompletion": "Test failover completed, cleanup pending",
    "Failed": "Test failover failed, cleanup pending",
    "MarkedForDeletion": "Test failover cleanup in progress",
}


def item_id(container_id: str, name: str) -> str:
    return f"{container_id}/replicationProtectedItems/{name}"


def vault_of(resource_id: str) -> str:
    """The vault ID a Site Recovery resource ID starts with."""
    marker = "/providers/microsoft.recoveryservices/vaults/"
    at = resource_id.lower().index(marker) + len(marker)
    end = resource_id.find("/", at)
    return resource_id if end < 0 else resource_id[:end]


def fabric_of(resource_id: str) -> str:
    lower = resource_id.lower()
    return resource_id[: lower.index("/replicationprotectioncontainers/")]


# -- the state at this moment ------------------------------------------------------------------
def allowed_operations(meta: dict[str, Any], running: bool) -> list[str]:
    if running:
        return []
    state, test = meta["state"], meta.get("test_state", "None")
    if state == "EnablingFailed":
        return ["DisableProtection"]
    if state == "InitialReplicationInProgress":
        return ["DisableProtection", *(["RepairReplication"] if meta.get("resync_required") else [])]
    if state == "Protected":
        if test in {"WaitingForCompletion", "Failed"}:
            return ["TestFailoverCleanup"]
        ops = ["TestFailover", "UnplannedFailover", "DisableProtection"]
        return ops + (["RepairReplication"] if meta.get("resync_required") else [])
    if state == "UnplannedFailoverCompleted":
        return ["Commit", "DisableProtection"]
    if state == "CommitFailoverCompleted":
        return ["DisableProtection"]
    return []


def _advance_replication(world: World, meta: dict[str, Any], ps_problems: list[Problem]) -> None:
    """Accumulate initial replication time since the last read, while the process server is healthy
    and the machine's replication is not stalled; move to Protected at 100 %."""
    if meta["state"] != "InitialReplicationInProgress":
        return
    now = clock.now(world)
    last = float(meta.get("ir_last", now))
    if now > last and not ps_problems and not meta.get("stalled"):
        meta["ir_elapsed"] = float(meta.get("ir_elapsed", 0.0)) + (now - last)
    meta["ir_last"] = now
    duration = max(float(meta.get("ir_duration", 1.0)), 1e-6)
    if meta.get("stall_pending") and meta["ir_elapsed"] >= duration * STALL_AT:
        meta["ir_elapsed"] = duration * STALL_AT
        meta["stalled"] = True
        meta["stall_pending"] = False
        meta["resync_required"] = True
    if meta["ir_elapsed"] >= duration:
        meta["state"] = "Protected"
        # The first recovery point exists from the moment initial replication completed.
        meta["protected_at"] = now - (meta["ir_elapsed"] - duration)
        meta["ir_elapsed"] = duration


def progress(meta: dict[str, Any]) -> int:
    if meta["state"] == "InitialReplicationInProgress":
        duration = max(float(meta.get("ir_duration", 1.0)), 1e-6)
        return min(99, int(100 * float(meta.get("ir_elapsed", 0.0)) / duration))
    return 100 if meta["state"] not in {"EnablingProtection", "EnablingFailed"} else 0


def settle(world: World, rid: str, ps_problems: list[Problem] | None = None) -> dict[str, Any] | None:
    """Bring an item up to now (its job finished, replication advanced); its meta, or None if gone."""
    with world.lock:
        meta = world.meta_of(rid)
        if meta.get("job"):
            jobs.settle(world, meta["job"])
        if not world.exists(rid):
            return None
        meta = world.meta_of(rid)
        if ps_problems is None:
            ps_problems = _ps_problems(world, meta)
        _advance_replication(world, meta, ps_problems)
        return meta


def _ps_problems(world: World, meta: dict[str, Any]) -> list[Problem]:
    if meta.get("kind") != "InMageRcm":
        return []
    problems = infra.process_server_problems(world, meta["vault_id"])
    # The endpoint-not-approved case fails the enable job; DNS problems stop replication.
    return [p for p in problems if p.code != "PrivateEndpointConnectionNotApproved"] or problems


def view(world: World, item: dict[str, Any], ps_cache: dict[str, list[Problem]] | None = None) -> dict[str, Any] | None:
    """The item as a GET shows it now; None once it is gone."""
    rid = item["id"]
    meta = world.meta_of(rid)
    ps_problems: list[Problem] | None = None
    if ps_cache is not None and meta.get("kind") == "InMageRcm":
        vault_id = meta["vault_id"].lower()
        if vault_id not in ps_cache:
            ps_cache[vault_id] = _ps_problems(world, meta)
        ps_problems = ps_cache[vault_id]
    with world.lock:
        meta = settle(world, rid, ps_problems)
        if meta is None:
            return None
        stored = world.get(rid)
        if stored is None:
            return None
        if ps_problems is None:
            ps_problems = _ps_problems(world, meta)
        running = jobs.running(world, meta.get("job"))
        now = clock.now(world)
        props = stored["properties"]
        state = meta["state"]
        test = meta.get("test_state", "None")
        props["protectionState"] = state
        props["protectionStateDescription"] = DESCRIPTIONS.get(state, state)
        props["testFailoverState"] = test
        props["testFailoverStateDescription"] = TEST_DESCRIPTIONS.get(test, test)
        props["activeLocation"] = meta.get("active", "Primary")
        props["allowedOperations"] = allowed_operations(meta, running)
        if running:
            job = world.get(meta["job"]) or {}
            props["currentScenario"] = {
                "scenarioName": job.get("properties", {}).get("scenarioName", "None"),
                "jobId": meta["job"],
                "startTime": job.get("properties", {}).get("startTime"),
            }
        else:
            props["currentScenario"] = {
                "scenarioName": "None",
                "jobId": f"{vault_of(rid)}/replicationJobs/None",
                "startTime": "1753-01-01T01:01:01Z",
            }
        problems = [Problem.from_dict(p) for p in meta.get("job_problems", [])]
        replicating = state in {"InitialReplicationInProgress", "Protected"}
        if replicating:
            problems += ps_problems
            if meta.get("stalled"):
                problems.append(errors.replication_stalled(props["friendlyName"]))
        props["healthErrors"] = infra.health_errors(problems, now, rid)
        props["replicationHealth"] = "Critical" if problems and (replicating or state == "EnablingFailed") else "Normal"
        props["failoverHealth"] = "Normal"
        if meta.get("last_test_failover"):
            props["lastSuccessfulTestFailoverTime"] = clock.stamp(meta["last_test_failover"])
        if meta.get("last_failover"):
            props["lastSuccessfulFailoverTime"] = clock.stamp(meta["last_failover"])
        if meta.get("failover_point"):
            props["failoverRecoveryPointId"] = meta["failover_point"]["id"]
        if meta.get("kind") == "InMageRcm":
            props["providerSpecificDetails"] = _inmagercm_details(world, meta, props, now)
        else:
            props["providerSpecificDetails"] = _hyperv_details(meta, now)
        return stored


def _recovery_point(world: World, meta: dict[str, Any], rid: str, now: float) -> tuple[str | None, float | None]:
    if meta.get("protected_at") is None or meta["state"] not in {"Protected"}:
        point = meta.get("failover_point")
        return (point["id"], point["time"]) if point else (None, None)
    interval = max(world.scenario.site_recovery.recovery_point_seconds * clock.scale(world), 1e-3)
    index = int(max(0.0, now - meta["protected_at"]) // interval)
    when = meta["protected_at"] + index * interval
    return f"{rid}/recoveryPoints/{uuid.uuid5(uuid.NAMESPACE_URL, f'{rid}/{index}')}", when


def _inmagercm_details(world: World, meta: dict[str, Any], props: dict[str, Any], now: float) -> dict[str, Any]:
    rid = props.get("_id") or meta["item_id"]
    given = meta["input"]
    # Read, not copied: only read here (a page renders 100 of these).
    machine = world.resources.get(key(given.get("fabricDiscoveryMachineId") or "")) or {"properties": {}}
    mprops = machine["properties"]
    point_id, point_time = _recovery_point(world, meta, rid, now)
    vnet_subnet = given.get("targetSubnetName")
    test_subnet = given.get("testSubnetName") or vnet_subnet
    log_account = (given.get("disksDefault") or {}).get("logStorageAccountId") or next(
        (d.get("logStorageAccountId") for d in given.get("disksToInclude") or [] if d.get("logStorageAccountId")),
        None,
    )
    pct = progress(meta)
    disks = mprops.get("disks") or []
    included = {d.get("diskId") for d in given.get("disksToInclude") or []}
    protected = [d for d in disks if not included or d["uuid"] in included]
    stalled = bool(meta.get("stalled"))
    ir_health = (
        "None" if meta["state"] != "InitialReplicationInProgress" else ("NoProgress" if stalled else "InProgress")
    )
    ps_id = given.get("processServerId")
    return {
        "instanceType": "InMageRcm",
        "internalIdentifier": meta["internal_id"],
        "fabricDiscoveryMachineId": given.get("fabricDiscoveryMachineId"),
        "multiVmGroupName": given.get("multiVmGroupName") or meta["name"],
        "discoveryType": "VmwareVm" if "/vmwaresites/" in str(machine.get("id", "")).lower() else "PhysicalMachine",
        "processServerId": ps_id,
        "processorCoreCount": mprops.get("numberOfProcessorCore"),
        "allocatedMemoryInMB": mprops.get("allocatedMemoryInMb"),
        "processServerName": meta.get("appliance"),
        "runAsAccountId": given.get("runAsAccountId"),
        "osType": "Linux" if (mprops.get("operatingSystemDetails") or {}).get("osType") == "linuxguest" else "Windows",
        "firmwareType": mprops.get("firmware", "BIOS"),
        "primaryNicIpAddress": (mprops.get("networkAdapters") or [{}])[0].get("ipAddressList", [None])[0],
        "targetGeneration": "V1",
        "licenseType": given.get("licenseType") or "NoLicenseType",
        "linuxLicenseType": given.get("linuxLicenseType") or "NotSpecified",
        "storageAccountId": log_account,
        "targetVmName": given.get("targetVmName") or mprops.get("displayName"),
        "targetVmSize": given.get("targetVmSize") or "Standard_D2s_v3",
        "targetResourceGroupId": given.get("targetResourceGroupId"),
        "targetLocation": meta.get("location"),
        "targetAvailabilitySetId": given.get("targetAvailabilitySetId"),
        "targetAvailabilityZone": given.get("targetAvailabilityZone"),
        "targetProximityPlacementGroupId": given.get("targetProximityPlacementGroupId"),
        "targetBootDiagnosticsStorageAccountId": given.get("targetBootDiagnosticsStorageAccountId"),
        "targetNetworkId": given.get("targetNetworkId"),
        "testNetworkId": given.get("testNetworkId"),
        "failoverRecoveryPointId": (meta.get("failover_point") or {}).get("id"),
        "lastRecoveryPointReceived": clock.stamp(point_time) if point_time else None,
        "lastRpoInSeconds": int(now - point_time) if point_time else None,
        "lastRpoCalculatedTime": clock.stamp(now) if point_time else None,
        "lastRecoveryPointId": point_id,
        "initialReplicationProgressPercentage": pct,
        "initialReplicationProcessedBytes": int(sum(d["maxSizeInBytes"] for d in protected) * pct / 100),
        "initialReplicationTransferredBytes": int(sum(d["maxSizeInBytes"] for d in protected) * pct / 250),
        "initialReplicationProgressHealth": ir_health,
        "resyncProgressPercentage": 0,
        "resyncProcessedBytes": 0,
        "resyncTransferredBytes": 0,
        "resyncProgressHealth": "None",
        "resyncRequired": "true" if meta.get("resync_required") else "false",
        "resyncState": "None",
        "agentUpgradeState": "None",
        "lastAgentUpgradeType": None,
        "agentUpgradeJobId": None,
        "agentUpgradeAttemptToVersion": None,
        "protectedDisks": [
            {
                "diskId": d["uuid"],
                "diskName": d["name"],
                "isOSDisk": "true" if d.get("isOSDisk") else "false",
                "capacityInBytes": d["maxSizeInBytes"],
                "diskState": "Valid",
                "logStorageAccountId": log_account,
                "diskEncryptionSetId": None,
                "seedManagedDiskId": None,
                "seedBlobUri": None,
                "targetManagedDiskId": None,
                "diskType": (given.get("disksDefault") or {}).get("diskType", "Standard_LRS"),
                "dataPendingInLogDataStoreInMB": 0.0,
                "dataPendingAtSourceAgentInMB": 0.0,
                "isInitialReplicationComplete": "true" if pct == 100 else "false",
            }
            for d in protected
        ],
        "unprotectedDisks": [],
        "isLastUpgradeSuccessful": "true",
        "isAgentRegistrationSuccessfulAfterFailover": True,
        "mobilityAgentDetails": {
            "version": (mprops.get("mobilityAgent") or {}).get("version"),
            "latestVersion": offazure.MOBILITY_AGENT_VERSION,
            "latestAgentReleaseDate": "2026-10-01T00:00:00Z",
            "driverVersion": (mprops.get("mobilityAgent") or {}).get("version"),
            "latestUpgradableVersionWithoutReboot": offazure.MOBILITY_AGENT_VERSION,
            "agentVersionExpiryDate": "2028-01-01T00:00:00Z",
            "driverVersionExpiryDate": "2028-01-01T00:00:00Z",
            "lastHeartbeatUtc": clock.stamp(now - 45) if meta.get("active", "Primary") == "Primary" else None,
            "reasonsBlockingUpgrade": [],
            "isUpgradeable": "false",
        },
        "vmNics": [
            {
                "nicId": a.get("nicId"),
                "isPrimaryNic": "true",
                "isSelectedForFailover": "true",
                "sourceIPAddress": (a.get("ipAddressList") or [None])[0],
                "sourceIPAddressType": "Static",
                "sourceNetworkId": None,
                "sourceSubnetName": None,
                "targetIPAddress": None,
                "targetIPAddressType": "Dynamic",
                "targetSubnetName": vnet_subnet,
                "testSubnetName": test_subnet,
                "testIPAddress": None,
                "testIPAddressType": "Dynamic",
            }
            for a in (mprops.get("networkAdapters") or [])[:1]
        ],
        "discoveredVmDetails": {
            "vCenterId": None,
            "vCenterFqdn": None,
            "datastores": [],
            "ipAddresses": [ip for a in mprops.get("networkAdapters") or [] for ip in a.get("ipAddressList") or []],
            "vmwareToolsStatus": "Running",
            "powerStatus": mprops.get("powerStatus", "ON"),
            "vmFqdn": mprops.get("fqdn"),
            "osName": (mprops.get("operatingSystemDetails") or {}).get("osName"),
            "createdTimestamp": mprops.get("createdTimestamp"),
            "updatedTimestamp": mprops.get("updatedTimestamp"),
            "isDeleted": False,
            "lastDiscoveryTimeInUtc": clock.stamp(now - 300),
        },
        "osName": (mprops.get("operatingSystemDetails") or {}).get("osName"),
        "targetVmTags": given.get("targetVmTags") or [],
        "seedManagedDiskTags": given.get("seedManagedDiskTags") or [],
        "targetManagedDiskTags": given.get("targetManagedDiskTags") or [],
        "targetNicTags": given.get("targetNicTags") or [],
        "sqlServerLicenseType": given.get("sqlServerLicenseType") or "NotSpecified",
        "supportedOSVersions": [],
    }


def _hyperv_details(meta: dict[str, Any], now: float) -> dict[str, Any]:
    """HyperVReplicaAzure items (agentless Hyper-V, as in the official examples): the input echoed."""
    given = meta["input"]
    out = {"instanceType": "HyperVReplicaAzure"}
    for field in (
        "hvHostVmId",
        "vmName",
        "osType",
        "vhdId",
        "targetStorageAccountId",
        "targetAzureNetworkId",
        "targetAzureSubnetId",
        "enableRdpOnTargetOption",
        "targetAzureVmName",
        "logStorageAccountId",
        "targetAzureV2ResourceGroupId",
        "useManagedDisks",
    ):
        if field in given:
            out[field] = given[field]
    out["initialReplicationDetails"] = {"initialReplicationType": "InitialReplication"}
    out["lastReplicatedTime"] = clock.stamp(now)
    return out


# -- starting work ----------------------------------------------------------------------------
def _new_meta(
    *,
    kind: str,
    name: str,
    rid: str,
    vault_id: str,
    fabric_id: str,
    appliance: str,
    location: str,
    given: dict[str, Any],
) -> dict[str, Any]:
    return {
        "kind": kind,  # InMageRcm | HyperVReplicaAzure
        "name": name,
        "item_id": rid,
        "vault_id": vault_id,
        "fabric_id": fabric_id,
        "appliance": appliance,
        "location": location,
        "input": given,  # the enable input's providerSpecificDetails, updated by PATCH
        "internal_id": str(uuid.uuid4()),
        "state": "EnablingProtection",
        "test_state": "None",
        "active": "Primary",
        "job": None,
        "job_problems": [],  # the last failed job's problems, shown as health errors
        "ir_elapsed": 0.0,
        "ir_last": None,
        "ir_duration": 0.0,
        "stalled": False,
        "stall_pending": False,
        "resync_required": False,
        "protected_at": None,
        "test_vm_id": None,
        "vm_id": None,
    }


def machine_fault(world: World, meta: dict[str, Any]) -> str | None:
    machine_id = meta["input"].get("fabricDiscoveryMachineId")
    return world.meta_of(machine_id).get("fault") if machine_id and world.exists(machine_id) else None


def _server(world: World, meta: dict[str, Any]) -> str:
    machine = world.get(meta["input"].get("fabricDiscoveryMachineId") or "")
    return machine["properties"]["displayName"] if machine else meta["name"]


def begin(
    world: World,
    rid: str,
    kind: str,
    *,
    lro_fault: str | None,
    latency: float,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a job on an item (the caller checked the operation is allowed); returns the job."""
    meta = world.meta_of(rid)
    failure = None
    if lro_fault:
        code, _, message = lro_fault.partition("|")
        failure = errors.injected_lro(code, message)
    job = jobs.start(
        world,
        meta["vault_id"],
        kind,
        item_id=rid,
        item_name=meta["name"],
        instance_type=meta["kind"],
        extra_seconds=latency,
        failure=failure,
        data=data,
        affected=_affected(world, meta),
    )
    meta["job"] = job["id"]
    return job


def _affected(world: World, meta: dict[str, Any]) -> dict[str, str]:
    """The job's affectedObjectDetails, as Site Recovery fills them."""
    fabric = world.get(meta["fabric_id"]) or {"properties": {}}
    container_id = meta["item_id"].rsplit("/replicationProtectedItems/", 1)[0]
    container = world.get(container_id) or {"name": container_id.rsplit("/", 1)[-1], "properties": {}}
    item = world.get(meta["item_id"]) or {"properties": {}}
    policy = str(item["properties"].get("policyId") or "")
    target = meta["input"].get("targetVmName") or item["properties"].get("friendlyName") or meta["name"]
    return {
        "PrimaryCloudId": container["name"],
        "PrimaryCloudName": container["properties"].get("friendlyName", container["name"]),
        "PrimaryFabricProviderId": (fabric["properties"].get("customDetails") or {}).get("instanceType", ""),
        "PrimaryVmId": meta["name"],
        "PrimaryVmName": item["properties"].get("friendlyName", meta["name"]),
        "PrimaryVmmId": fabric["properties"].get("internalIdentifier", ""),
        "PrimaryVmmName": fabric["properties"].get("friendlyName", ""),
        "ProtectionProfileId": str(uuid.uuid5(uuid.NAMESPACE_URL, policy.lower())) if policy else "",
        "RecoveryCloudId": str(uuid.uuid5(uuid.NAMESPACE_URL, meta["vault_id"].lower() + "/azure")),
        "RecoveryCloudName": "Microsoft Azure",
        "RecoveryFabricProviderId": "Azure",
        "RecoveryVmId": "",
        "RecoveryVmName": target,
        "RecoveryVmmId": str(uuid.uuid5(uuid.NAMESPACE_URL, meta["vault_id"].lower() + "/azurevmm")),
        "RecoveryVmmName": "Microsoft Azure",
    }


def check_allowed(world: World, rid: str, operation: str) -> dict[str, Any]:
    """The item's meta if `operation` may start now; else ARM's refusal."""
    meta = settle(world, rid)
    if meta is None:
        raise not_found(rid)
    if jobs.running(world, meta.get("job")):
        job = world.get(meta["job"]) or {"properties": {}}
        raise errors.in_progress(meta["name"], job["properties"].get("scenarioName", "?"), meta["job"])
    allowed = allowed_operations(meta, False)
    if operation not in allowed:
        raise errors.not_allowed(operation, meta["name"], meta["state"], allowed)
    return meta


# -- job outcomes -------------------------------------------------------------------------------
def _meta_for(world: World, job: dict[str, Any]) -> dict[str, Any] | None:
    rid = job["item_id"]
    return world.meta_of(rid) if world.exists(rid) else None


def _vault(world: World, meta: dict[str, Any]) -> dict[str, Any]:
    # Read, not copied (the checks only read it): every item of a page asks for the same vault.
    found = world.resources.get(key(meta["vault_id"]))
    return found or {"id": meta["vault_id"], "name": meta["vault_id"].rsplit("/", 1)[-1]}


def _failed(meta: dict[str, Any], problems: list[Problem]) -> Problem:
    meta["job_problems"] = [p.as_dict() for p in problems]
    return problems[0]


def enable_preconditions(world: World, meta: dict[str, Any]) -> list[Problem]:
    given = meta["input"]
    if meta["kind"] != "InMageRcm":
        return checks.targets(
            world,
            resource_group_id=given.get("targetAzureV2ResourceGroupId"),
            network_id=given.get("targetAzureNetworkId"),
            subnet=None,
        )
    vault = _vault(world, meta)
    problems = [p for p in checks.vault_reachability(world, vault) if p.code == "PrivateEndpointConnectionNotApproved"]
    problems += checks.machine(world, meta["appliance"], given.get("fabricDiscoveryMachineId", ""))
    problems += checks.targets(
        world,
        resource_group_id=given.get("targetResourceGroupId"),
        network_id=given.get("targetNetworkId"),
        subnet=given.get("targetSubnetName"),
        test_network_id=given.get("testNetworkId"),
        test_subnet=given.get("testSubnetName"),
    )
    accounts = dict.fromkeys(
        a
        for a in [
            (given.get("disksDefault") or {}).get("logStorageAccountId"),
            *[d.get("logStorageAccountId") for d in given.get("disksToInclude") or []],
        ]
        if a
    )
    for account in accounts:
        problems += checks.cache_account(world, vault, account)
    return problems


def _finish_enable(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    problems = [job["failure"]] if job["failure"] else []
    if not problems and machine_fault(world, meta) == "enable_fails":
        problems = [errors.injected("Enable replication", _server(world, meta))]
    problems = problems or enable_preconditions(world, meta)
    meta["job"] = None
    if problems:
        meta["state"] = "EnablingFailed"
        return _failed(meta, problems)
    meta["job_problems"] = []
    meta["state"] = "InitialReplicationInProgress"
    meta["ir_elapsed"] = 0.0
    meta["ir_last"] = job["end"]
    meta["ir_duration"] = clock.duration(world, "initial_replication")
    meta["stall_pending"] = machine_fault(world, meta) == "replication_stalls"
    return None


def _target_subnet(meta: dict[str, Any], test: bool, network_id: str | None) -> tuple[str | None, str | None]:
    given = meta["input"]
    if test:
        return network_id or given.get("testNetworkId"), given.get("testSubnetName") or given.get("targetSubnetName")
    return given.get("targetNetworkId"), given.get("targetSubnetName")


def _make_vm(world: World, meta: dict[str, Any], *, test: bool, network_id: str, subnet: str) -> dict[str, Any]:
    given = meta["input"]
    machine = world.get(given.get("fabricDiscoveryMachineId") or "") or {"properties": {}}
    mprops = machine["properties"]
    name = (given.get("targetVmName") or mprops.get("displayName") or meta["name"]) + ("-test" if test else "")
    subnet_id = f"{network_id}/subnets/{subnet}"
    group = world.require(given["targetResourceGroupId"])
    return compute.create_vm(
        world,
        resource_group_id=group["id"],
        name=name,
        location=meta["location"],
        size=given.get("targetVmSize") or "Standard_D2s_v3",
        os_type="Linux" if (mprops.get("operatingSystemDetails") or {}).get("osType") == "linuxguest" else "Windows",
        disks_gb=[int(d["maxSizeInBytes"] // 1024**3) for d in mprops.get("disks") or []] or [128],
        subnet_id=subnet_id,
        ip_address=network.free_ip(world, subnet_id),
        protected_item_id=meta["item_id"],
        test=test,
        tags=_tags(given.get("targetVmTags")),
        nic_tags=_tags(given.get("targetNicTags")),
    )


def _tags(given: Any) -> dict[str, str]:
    """InMageRcm's `[{tagName, tagValue}]` as ARM tags (what failover puts on the VM and its NIC)."""
    return {str(t["tagName"]): str(t.get("tagValue", "")) for t in given or [] if t.get("tagName")}


def _finish_test_failover(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    network_id, subnet = _target_subnet(meta, True, job["data"].get("network_id"))
    problems = [job["failure"]] if job["failure"] else []
    if not problems and meta["kind"] == "InMageRcm":
        if not network_id:
            problems = [errors.missing_target("test virtual network", "(none given)")]
        else:
            problems = checks.targets(
                world,
                resource_group_id=meta["input"].get("targetResourceGroupId"),
                network_id=None,
                subnet=None,
                test_network_id=network_id,
                test_subnet=subnet,
            )
        if problems:
            meta["test_state"] = "None"
            return _failed(meta, problems)
    if not problems and machine_fault(world, meta) == "test_failover_fails":
        problems = [errors.injected("Test failover", _server(world, meta))]
    if problems:
        meta["test_state"] = "Failed"
        return _failed(meta, problems)
    if meta["kind"] == "InMageRcm" and network_id and subnet:
        meta["test_vm_id"] = _make_vm(world, meta, test=True, network_id=network_id, subnet=subnet)["id"]
    meta["test_state"] = "WaitingForCompletion"
    meta["last_test_failover"] = job["end"]
    meta["job_problems"] = []
    return None


def _finish_test_cleanup(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    if job["failure"]:
        meta["test_state"] = "Failed"
        return _failed(meta, [job["failure"]])
    if meta.get("test_vm_id"):
        compute.delete_vm(world, meta["test_vm_id"])
        meta["test_vm_id"] = None
    meta["test_state"] = "None"
    meta["job_problems"] = []
    return None


def _finish_failover(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    problems = [job["failure"]] if job["failure"] else []
    network_id, subnet = _target_subnet(meta, False, None)
    if not problems and meta["kind"] == "InMageRcm":
        problems = checks.targets(
            world, resource_group_id=meta["input"].get("targetResourceGroupId"), network_id=network_id, subnet=subnet
        )
        if not network_id or not subnet:
            problems.append(errors.missing_target("subnet", f"{network_id}/subnets/{subnet}"))
    if not problems and machine_fault(world, meta) == "failover_fails":
        problems = [errors.injected("Failover", _server(world, meta))]
    if problems:
        meta["state"] = "Protected"
        return _failed(meta, problems)
    now = job["end"]
    point_id, point_time = _recovery_point(world, meta, meta["item_id"], now)
    meta["failover_point"] = {"id": point_id, "time": point_time} if point_id else None
    if meta["kind"] == "InMageRcm" and network_id and subnet:
        meta["vm_id"] = _make_vm(world, meta, test=False, network_id=network_id, subnet=subnet)["id"]
        if job["data"].get("shutdown"):
            machine_id = meta["input"].get("fabricDiscoveryMachineId")
            machine = world.get(machine_id) if machine_id else None
            if machine is not None:
                machine["properties"]["powerStatus"] = "OFF"
                world.put(machine)
    meta["state"] = "UnplannedFailoverCompleted"
    meta["active"] = "Recovery"
    meta["last_failover"] = now
    meta["job_problems"] = []
    return None


def _finish_commit(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    if job["failure"]:
        meta["state"] = "UnplannedFailoverCompleted"
        return _failed(meta, [job["failure"]])
    meta["state"] = "CommitFailoverCompleted"
    meta["job_problems"] = []
    return None


def _finish_disable(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    if job["failure"] and job["kind"] != "purge":
        meta["state"] = meta.get("state_before_disable", "Protected")
        return _failed(meta, [job["failure"]])
    if meta.get("test_vm_id"):
        compute.delete_vm(world, meta["test_vm_id"])
    world.delete(meta["item_id"])
    return None


def _finish_update(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    if job["failure"]:
        return _failed(meta, [job["failure"]])
    meta["input"].update(job["data"].get("changes") or {})
    return None


def _finish_repair(world: World, job: dict[str, Any]) -> Problem | None:
    meta = _meta_for(world, job)
    if meta is None:
        return None
    meta["job"] = None
    if job["failure"]:
        return _failed(meta, [job["failure"]])
    meta["stalled"] = False
    meta["stall_pending"] = False
    meta["resync_required"] = False
    meta["ir_last"] = job["end"]
    meta["job_problems"] = []
    return None


jobs.FINISHERS.update(
    {
        "enable": _finish_enable,
        "test_failover": _finish_test_failover,
        "test_cleanup": _finish_test_cleanup,
        "failover": _finish_failover,
        "commit": _finish_commit,
        "disable": _finish_disable,
        "purge": _finish_disable,
        "update": _finish_update,
        "repair": _finish_repair,
    }
)


def render(world: World, rid: str) -> dict[str, Any] | None:
    stored = world.get(rid)
    return view(world, stored) if stored is not None else None


def child_refs(world: World, parent_id: str, child_type: str) -> list[dict[str, Any]]:
    """`{"id"}` of each direct child, without copying the children: lists page these first and
    copy only the page (a container may hold thousands of items, a vault tens of thousands of jobs)."""
    with world.lock:
        return [{"id": world.resources[k]["id"]} for k in world.child_keys(parent_id, child_type)]


def container_items(world: World, container_id: str) -> list[dict[str, Any]]:
    """The container's items as references (`{"id"}`); `render` or `view` them."""
    return child_refs(world, container_id, "replicationProtectedItems")


def vault_items(world: World, vault_id: str) -> list[dict[str, Any]]:
    out = []
    for fabric in child_refs(world, vault_id, "replicationFabrics"):
        for container in child_refs(world, fabric["id"], "replicationProtectionContainers"):
            out.extend(container_items(world, container["id"]))
    return out


def refuse_unknown_kind(kind: str | None) -> ArmError:
    return errors.invalid_input(
        f"The replication provider '{kind}' is not supported here: use one of {', '.join(KINDS)} "
        "(providerSpecificDetails.instanceType)."
    )
