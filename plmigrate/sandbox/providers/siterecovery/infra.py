"""The vault's Site Recovery infrastructure that appliance registration makes, and how it reads.

Registering an appliance (what a person does on the appliance with the vault's key file, once the
vault's names resolve; `register_appliance`) creates in the vault, for that appliance:
- an InMageRcm fabric `{appliance}{h}replicationfabric` (h: 4 hex digits of the vault and appliance)
  with friendlyName = the appliance's name, whose `customDetails` list the appliance's process
  server (id: a GUID, name: the appliance), RCM proxy, push installer and the mobility agents
  registered from the machines it discovered, and its VMware and physical site IDs;
- a protection container `{appliance}{h}replicationcontainer`;
- an InMageRcm replication policy `{appliance}{h}policy` and the container mapping to it
  (`{appliance}{h}containermapping`);
- a Recovery Services provider (the appliance's DRA) under the fabric.

Hidden facts in `world.meta_of(fabric_id)`: `appliance`. Health is computed on every read: the
process server is Critical with a health error while the vault's private link FQDNs do not resolve
to the endpoint's IPs from on-prem DNS (the appliance then cannot reach the service).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from plmigrate.sandbox.providers import offazure
from plmigrate.sandbox.providers.siterecovery import checks, clock
from plmigrate.sandbox.providers.siterecovery.errors import Problem
from plmigrate.sandbox.scenario import ApplianceSeed
from plmigrate.sandbox.world import World

FABRIC_TYPE = "Microsoft.RecoveryServices/vaults/replicationFabrics"
CONTAINER_TYPE = FABRIC_TYPE + "/replicationProtectionContainers"
MAPPING_TYPE = CONTAINER_TYPE + "/replicationProtectionContainerMappings"
PROVIDER_TYPE = FABRIC_TYPE + "/replicationRecoveryServicesProviders"
POLICY_TYPE = "Microsoft.RecoveryServices/vaults/replicationPolicies"
APPLIANCE_VERSION = "9.64.7370.1"
_NAMESPACE = uuid.UUID("0c4b8f5e-2a1d-4c3b-9e8f-7a6b5c4d3e2f")


class RegistrationFailed(Exception):
    """The appliance's setup could not register it with the vault (the problems say why)."""

    def __init__(self, appliance: str, problems: list[Problem]) -> None:
        super().__init__(f"{appliance}: " + "; ".join(p.message for p in problems))
        self.appliance = appliance
        self.problems = problems


def names(vault_id: str, appliance: str) -> dict[str, str]:
    """The names registration gives an appliance's fabric, container, policy and mapping."""
    h = hashlib.sha256(f"{vault_id.lower()}|{appliance.lower()}".encode()).hexdigest()[:4]
    return {
        "fabric": f"{appliance}{h}replicationfabric",
        "container": f"{appliance}{h}replicationcontainer",
        "policy": f"{appliance}{h}policy",
        "mapping": f"{appliance}{h}containermapping",
    }


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(p.lower() for p in parts)))


def appliance_seed(world: World, name: str) -> ApplianceSeed | None:
    for appliance in world.scenario.appliances:
        if appliance.name.lower() == name.lower():
            return appliance
    return None


def fabrics(world: World, vault_id: str) -> list[dict[str, Any]]:
    return world.children(vault_id, "replicationFabrics")


def fabric_of_appliance(world: World, vault_id: str, appliance: str) -> dict[str, Any] | None:
    for fabric in fabrics(world, vault_id):
        if str(world.meta_of(fabric["id"]).get("appliance", "")).lower() == appliance.lower():
            return fabric
    return None


def appliance_of(world: World, fabric_id: str) -> str:
    return str(world.meta_of(fabric_id).get("appliance", ""))


def process_server_id(fabric_id: str) -> str:
    return _guid(fabric_id, "processserver")


def register_appliance(world: World, vault_id: str, appliance_name: str) -> dict[str, Any]:
    """Register an appliance with a vault (idempotent); returns the fabric. Raises
    `RegistrationFailed` when the appliance cannot reach the vault's Site Recovery service."""
    appliance = appliance_seed(world, appliance_name)
    if appliance is None:
        raise KeyError(appliance_name)
    vault = world.get(vault_id)
    if vault is None:
        raise LookupError(vault_id)
    problems = checks.vault_reachability(world, vault)
    if problems:
        raise RegistrationFailed(appliance.name, problems)
    with world.lock:
        existing = fabric_of_appliance(world, vault["id"], appliance.name)
        if existing is not None:
            return existing
        made = names(vault["id"], appliance.name)
        sub = world.scenario.subscription_id
        fabric_id = f"{vault['id']}/replicationFabrics/{made['fabric']}"
        sites = {
            kind: offazure.site_id(sub, appliance.resource_group, appliance.name, kind)
            for kind in (offazure.VMWARE_SITES, offazure.SERVER_SITES)
        }
        fabric = {
            "id": fabric_id,
            "name": made["fabric"],
            "type": FABRIC_TYPE,
            "location": vault["location"],
            "properties": {
                "friendlyName": appliance.name,
                "encryptionDetails": {"kekState": "None"},
                "rolloverEncryptionDetails": {"kekState": "None"},
                "internalIdentifier": _guid(fabric_id, "internal"),
                "bcdrState": "Valid",
                "health": "Normal",
                "healthErrorDetails": [],
                "customDetails": {
                    "instanceType": "InMageRcm",
                    "vmwareSiteId": sites[offazure.VMWARE_SITES]
                    if world.exists(sites[offazure.VMWARE_SITES])
                    else None,
                    "physicalSiteId": sites[offazure.SERVER_SITES]
                    if world.exists(sites[offazure.SERVER_SITES])
                    else None,
                    "serviceEndpoint": f"https://{vault['location']}.rcm.siterecovery.windowsazure.com",
                    "serviceResourceId": _guid(vault["id"], "service"),
                    "serviceContainerId": _guid(fabric_id, "servicecontainer"),
                    "dataPlaneUri": f"https://{vault['location']}.dataplane.siterecovery.windowsazure.com",
                    "controlPlaneUri": f"https://{vault['location']}.controlplane.siterecovery.windowsazure.com",
                    "sourceAgentIdentityDetails": {
                        "tenantId": world.scenario.tenant_id,
                        "applicationId": _guid(fabric_id, "agentapp"),
                        "objectId": _guid(fabric_id, "agentobject"),
                        "audience": f"https://{_guid(fabric_id, 'audience')}",
                        "aadAuthority": f"https://login.microsoftonline.com/{world.scenario.tenant_id}",
                    },
                },
            },
        }
        world.put(fabric)
        world.meta_of(fabric_id)["appliance"] = appliance.name
        container_id = f"{fabric_id}/replicationProtectionContainers/{made['container']}"
        world.put(
            {
                "id": container_id,
                "name": made["container"],
                "type": CONTAINER_TYPE,
                "location": vault["location"],
                "properties": {
                    "fabricFriendlyName": appliance.name,
                    "friendlyName": made["container"],
                    "fabricType": "InMageRcm",
                    "protectedItemCount": 0,
                    "pairingStatus": "Paired",
                    "role": "Primary",
                    "fabricSpecificDetails": {"instanceType": "InMageRcm"},
                },
            }
        )
        policy_id = f"{vault['id']}/replicationPolicies/{made['policy']}"
        world.put(
            {
                "id": policy_id,
                "name": made["policy"],
                "type": POLICY_TYPE,
                "location": vault["location"],
                "properties": {
                    "friendlyName": made["policy"],
                    "providerSpecificDetails": {
                        "instanceType": "InMageRcm",
                        "recoveryPointHistoryInMinutes": 4320,
                        "appConsistentFrequencyInMinutes": 240,
                        "crashConsistentFrequencyInMinutes": 5,
                        "enableMultiVmSync": "True",
                    },
                },
            }
        )
        world.put(
            {
                "id": f"{container_id}/replicationProtectionContainerMappings/{made['mapping']}",
                "name": made["mapping"],
                "type": MAPPING_TYPE,
                "location": vault["location"],
                "properties": {
                    "targetProtectionContainerId": "Microsoft Azure",
                    "targetProtectionContainerFriendlyName": "Microsoft Azure",
                    "providerSpecificDetails": {"instanceType": "InMageRcm"},
                    "health": "Normal",
                    "healthErrorDetails": [],
                    "policyId": policy_id,
                    "state": "Paired",
                    "sourceProtectionContainerFriendlyName": made["container"],
                    "sourceFabricFriendlyName": appliance.name,
                    "targetFabricFriendlyName": "Microsoft Azure",
                    "policyFriendlyName": made["policy"],
                },
            }
        )
        provider_name = _guid(fabric_id, "dra")
        world.put(
            {
                "id": f"{fabric_id}/replicationRecoveryServicesProviders/{provider_name}",
                "name": provider_name,
                "type": PROVIDER_TYPE,
                "location": vault["location"],
                "properties": {
                    "fabricType": "InMageRcm",
                    "friendlyName": appliance.name,
                    "providerVersion": APPLIANCE_VERSION,
                    "serverVersion": APPLIANCE_VERSION,
                    "providerVersionState": "Latest",
                    "fabricFriendlyName": appliance.name,
                    "connectionStatus": "Connected",
                    "protectedItemCount": 0,
                    "allowedScenarios": [],
                    "healthErrorDetails": [],
                    "draIdentifier": provider_name,
                    "machineId": _guid(fabric_id, "machine"),
                    "machineName": appliance.name,
                    "biosId": _guid(fabric_id, "bios").upper(),
                    "providerVersionDetails": {"version": APPLIANCE_VERSION, "status": "Latest"},
                },
            }
        )
        return world.require(fabric_id)


def register_hyperv_site(
    world: World,
    vault_id: str,
    *,
    fabric: str,
    container: str,
    provider: str | None,
    provider_host: str | None,
    policy: str | None,
    vms: list[dict[str, str]],
) -> dict[str, Any]:
    """A Hyper-V site registered with the vault (agentless Hyper-V: the official examples' world)."""
    vault = world.get(vault_id)
    if vault is None:
        raise LookupError(vault_id)
    fabric_id = f"{vault['id']}/replicationFabrics/{fabric}"
    container_id = f"{fabric_id}/replicationProtectionContainers/{container}"
    provider_name = provider or _guid(fabric_id, "provider")
    provider_id = f"{fabric_id}/replicationRecoveryServicesProviders/{provider_name}"
    with world.lock:
        world.put(
            {
                "id": fabric_id,
                "name": fabric,
                "type": FABRIC_TYPE,
                "location": vault["location"],
                "properties": {
                    "friendlyName": fabric,
                    "encryptionDetails": {"kekState": "None"},
                    "rolloverEncryptionDetails": {"kekState": "None"},
                    "internalIdentifier": _guid(fabric_id, "internal"),
                    "bcdrState": "Valid",
                    "customDetails": {"instanceType": "HyperVSite"},
                    "healthErrorDetails": [],
                    "health": "Normal",
                },
            }
        )
        world.put(
            {
                "id": container_id,
                "name": container,
                "type": CONTAINER_TYPE,
                "location": vault["location"],
                "properties": {
                    "fabricFriendlyName": fabric,
                    "friendlyName": fabric,
                    "fabricType": "HyperVSite",
                    "protectedItemCount": 0,
                    "pairingStatus": "NotPaired",
                    "role": "",
                },
            }
        )
        world.put(
            {
                "id": provider_id,
                "name": provider_name,
                "type": PROVIDER_TYPE,
                "location": vault["location"],
                "properties": {
                    "fabricType": "HyperVSite",
                    "friendlyName": provider_host or fabric,
                    "providerVersion": "5.1.2250.0",
                    "serverVersion": "3.2.7510.0",
                    "providerVersionState": "Latest",
                    "fabricFriendlyName": fabric,
                    "connectionStatus": "Connected",
                    "protectedItemCount": 0,
                    "allowedScenarios": ["Refresh"],
                    "healthErrorDetails": [],
                },
            }
        )
        policy_id = None
        if policy:
            policy_id = f"{vault['id']}/replicationPolicies/{policy}"
            world.put(
                {
                    "id": policy_id,
                    "name": policy,
                    "type": POLICY_TYPE,
                    "location": vault["location"],
                    "properties": {
                        "friendlyName": policy,
                        "providerSpecificDetails": {
                            "instanceType": "HyperVReplicaAzure",
                            "recoveryPointHistoryDurationInHours": 24,
                            "applicationConsistentSnapshotFrequencyInHours": 4,
                            "replicationInterval": 300,
                            "onlineReplicationStartTime": None,
                            "encryption": "Disabled",
                            "activeStorageAccountId": None,
                        },
                    },
                }
            )
        for vm in vms:
            world.put(
                {
                    "id": f"{container_id}/replicationProtectableItems/{vm['name']}",
                    "name": vm["name"],
                    "type": CONTAINER_TYPE + "/replicationProtectableItems",
                    "properties": {
                        "friendlyName": vm.get("friendly_name", vm["name"]),
                        "protectionStatus": "Unprotected",
                        "recoveryServicesProviderId": provider_id,
                        "protectionReadinessErrors": [],
                        "supportedReplicationProviders": ["HyperVReplicaAzure"],
                        "customDetails": {"instanceType": "ReplicationGroupDetails"},
                    },
                }
            )
    return {"fabric_id": fabric_id, "container_id": container_id, "provider_id": provider_id, "policy_id": policy_id}


def process_server_problems(world: World, vault_id: str) -> list[Problem]:
    """What the appliance's process server reports: problems reaching the vault's service."""
    vault = world.get(vault_id)
    return checks.vault_reachability(world, vault) if vault is not None else []


def _health_error(problem: Problem, now: float, entity: str) -> dict[str, Any]:
    return {
        "innerHealthErrors": [],
        "errorSource": "ProcessServer",
        "errorType": "ConnectivityError",
        "errorLevel": "Error",
        "errorCategory": "Configuration",
        "errorCode": problem.code,
        "summaryMessage": problem.message.split(":")[0],
        "errorMessage": problem.message,
        "possibleCauses": problem.possible_causes,
        "recommendedAction": problem.recommended_action,
        "creationTimeUtc": clock.stamp(now),
        "recoveryProviderErrorMessage": None,
        "entityId": entity,
        "errorId": _guid(entity, problem.code),
        "customerResolvability": "Allowed",
    }


def health_errors(problems: list[Problem], now: float, entity: str) -> list[dict[str, Any]]:
    return [_health_error(p, now, entity) for p in problems]


def fabric_view(world: World, fabric: dict[str, Any], item_count: int | None = None) -> dict[str, Any]:
    """A fabric as a GET shows it: its process server's health and the mobility agents now."""
    appliance = appliance_of(world, fabric["id"])
    if not appliance or fabric["properties"].get("customDetails", {}).get("instanceType") != "InMageRcm":
        return fabric
    now = clock.now(world)
    vault_id = fabric["id"].lower().split("/replicationfabrics/")[0]
    problems = process_server_problems(world, vault_id)
    health = "Critical" if problems else "Normal"
    ps_id = process_server_id(fabric["id"])
    count = item_count if item_count is not None else protected_count(world, fabric["id"])
    details = fabric["properties"]["customDetails"]
    seed = appliance_seed(world, appliance)
    ip = offazure.machine_ip(f"{appliance}-appliance")
    details["processServers"] = [
        {
            "id": ps_id,
            "name": appliance,
            "biosId": _guid(fabric["id"], "bios").upper(),
            "fabricObjectId": _guid(fabric["id"], "psobject"),
            "fqdn": f"{appliance}.corp.contoso.com",
            "ipAddresses": [ip],
            "version": APPLIANCE_VERSION,
            "lastHeartbeatUtc": clock.stamp(now - 30),
            "totalMemoryInBytes": 32 * 1024**3,
            "availableMemoryInBytes": 20 * 1024**3,
            "usedMemoryInBytes": 12 * 1024**3,
            "memoryUsagePercentage": 37.5,
            "totalSpaceInBytes": 1024**4,
            "availableSpaceInBytes": 700 * 1024**3,
            "usedSpaceInBytes": 324 * 1024**3,
            "freeSpacePercentage": 68.4,
            "throughputUploadPendingDataInBytes": 0,
            "throughputInBytes": 0,
            "processorUsagePercentage": 12.0,
            "throughputStatus": "Critical" if problems else "Healthy",
            "systemLoad": 1,
            "systemLoadStatus": "Healthy",
            "diskUsageStatus": "Healthy",
            "memoryUsageStatus": "Healthy",
            "processorUsageStatus": "Healthy",
            "health": health,
            "healthErrors": health_errors(problems, now, ps_id),
            "protectedItemCount": count,
            "historicHealth": health,
        }
    ]
    details["rcmProxies"] = [
        {
            "id": _guid(fabric["id"], "rcmproxy"),
            "name": appliance,
            "biosId": _guid(fabric["id"], "bios").upper(),
            "fabricObjectId": _guid(fabric["id"], "rcmproxyobject"),
            "fqdn": f"{appliance}.corp.contoso.com",
            "clientAuthenticationType": "Aad",
            "version": APPLIANCE_VERSION,
            "lastHeartbeatUtc": clock.stamp(now - 30),
            "health": health,
            "healthErrors": health_errors(problems, now, ps_id),
        }
    ]
    details["pushInstallers"] = [
        {
            "id": _guid(fabric["id"], "pushinstaller"),
            "name": appliance,
            "biosId": _guid(fabric["id"], "bios").upper(),
            "fabricObjectId": _guid(fabric["id"], "pushobject"),
            "fqdn": f"{appliance}.corp.contoso.com",
            "version": APPLIANCE_VERSION,
            "lastHeartbeatUtc": clock.stamp(now - 30),
            "health": "Normal",
            "healthErrors": [],
        }
    ]
    details["replicationAgents"] = [
        {
            "id": _guid(m["id"], "agent"),
            "name": m["properties"]["displayName"],
            "biosId": m["properties"]["biosId"],
            "fabricObjectId": m["id"],
            "fqdn": m["properties"]["fqdn"],
            "version": (m["properties"].get("mobilityAgent") or {}).get("version"),
            "lastHeartbeatUtc": clock.stamp(now - 60),
            "health": "Normal",
            "healthErrors": [],
        }
        for m in (offazure.machines_of(world, appliance, copy=False) if seed else [])
        if (m["properties"].get("mobilityAgent") or {}).get("installed")
    ]
    details.setdefault("reprotectAgents", [])
    details.setdefault("marsAgents", [])
    details.setdefault("dras", [])
    details.setdefault("agentDetails", [])
    fabric["properties"]["health"] = health
    fabric["properties"]["healthErrorDetails"] = health_errors(problems, now, fabric["id"])
    return fabric


def protected_count(world: World, fabric_id: str) -> int:
    """How many items the fabric's containers hold (counted by key: nothing is copied)."""
    with world.lock:
        return sum(
            len(world.child_keys(container, "replicationProtectedItems"))
            for container in world.child_keys(fabric_id, "replicationProtectionContainers")
        )


def appliances_view(world: World, vault_id: str) -> list[dict[str, Any]]:
    """`replicationAppliances`: one entry per registered InMageRcm appliance."""
    out = []
    for fabric in fabrics(world, vault_id):
        appliance = appliance_of(world, fabric["id"])
        if not appliance:
            continue
        shown = fabric_view(world, fabric)
        details = shown["properties"]["customDetails"]
        out.append(
            {
                "id": f"{vault_id}/replicationAppliances/{appliance}",
                "name": appliance,
                "properties": {
                    "providerSpecificDetails": {
                        "instanceType": "InMageRcm",
                        "appliances": [
                            {
                                "id": _guid(fabric["id"], "appliance"),
                                "name": appliance,
                                "fabricArmId": fabric["id"],
                                "processServer": details["processServers"][0],
                                "rcmProxy": details["rcmProxies"][0],
                                "pushInstaller": details["pushInstallers"][0],
                                "replicationAgent": {
                                    "id": _guid(fabric["id"], "replicationagent"),
                                    "name": appliance,
                                    "version": APPLIANCE_VERSION,
                                    "health": "Normal",
                                },
                                "reprotectAgent": {
                                    "id": _guid(fabric["id"], "reprotectagent"),
                                    "name": appliance,
                                    "version": APPLIANCE_VERSION,
                                    "health": "Normal",
                                },
                                "marsAgent": {
                                    "id": _guid(fabric["id"], "marsagent"),
                                    "name": appliance,
                                    "version": "2.0.9270.0",
                                    "health": "Normal",
                                },
                                "dra": {
                                    "id": _guid(fabric["id"], "dra"),
                                    "name": appliance,
                                    "version": APPLIANCE_VERSION,
                                    "health": "Normal",
                                },
                                "switchProviderBlockingErrorDetails": [],
                            }
                        ],
                    }
                },
            }
        )
    return out
