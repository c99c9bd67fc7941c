"""Microsoft.OffAzure: what each replication appliance discovered on-prem (api-version 2023-06-06).

An appliance of the scenario has two discovery sites in its resource group: a VMware site
(`VMwareSites/{appliance}-vmwaresite`, for `source_type: vmware`) and a server site
(`serverSites/{appliance}-serversite`, for physical, Hyper-V-as-physical, AWS and GCP servers, which
agent-based replication treats as physical). Each discovered server is a `machines/{id}` child
whose name is a GUID (stable across runs), found by `properties.displayName`. These IDs are what a
protected item's `fabricDiscoveryMachineId` names.

Hidden per-machine facts in `world.meta_of(machine_id)`: `appliance`, `server` (the display name)
and `fault` (the scenario's per-machine fault). Whether the mobility agent is installed shows in
`properties.mobilityAgent` (a sandbox rendering: Azure shows it on the appliance's fabric as a
registered replication agent, which the Site Recovery provider also does).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmRequest, ArmResponse, Router, not_found, paged
from plmigrate.sandbox.providers.resources import require_group
from plmigrate.sandbox.scenario import ApplianceSeed, MachineSeed
from plmigrate.sandbox.world import World

# Microsoft.OffAzure's versions (migrate specs, OffAzure readme); 2023-06-06 is what
# tasks/replication.py reads discovered machines with (no SDK client).
_OFFAZURE = served(
    "2020-01-01",
    "2020-07-07",
    "2023-06-06",
    "2023-10-01-preview",
    "2024-05-01-preview",
    "2024-07-01-preview",
    "2024-12-01-preview",
)
API_VERSIONS: dict[str, Served] = {
    "Microsoft.OffAzure/VMwareSites": _OFFAZURE,
    "Microsoft.OffAzure/serverSites": _OFFAZURE,
}


VMWARE_SITES = "Microsoft.OffAzure/VMwareSites"
SERVER_SITES = "Microsoft.OffAzure/serverSites"
MOBILITY_AGENT_VERSION = "9.64.7370.1"
_NAMESPACE = uuid.UUID("6f1c2b4e-3d5a-4e8f-9a1b-2c3d4e5f6a7b")
SITES = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.OffAzure/{siteType}"


def site_kind(source_type: str) -> str:
    return VMWARE_SITES if source_type == "vmware" else SERVER_SITES


def site_id(subscription_id: str, resource_group: str, appliance: str, kind: str) -> str:
    suffix = "vmwaresite" if kind == VMWARE_SITES else "serversite"
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{kind}/{appliance}-{suffix}"


def machine_name(appliance: str, server: str) -> str:
    """The discovered machine's resource name: a GUID derived from appliance and server."""
    return str(uuid.uuid5(_NAMESPACE, f"{appliance.lower()}/{server.lower()}"))


def machine_ip(server: str) -> str:
    digest = hashlib.sha256(server.lower().encode()).digest()
    return f"10.{100 + digest[0] % 50}.{digest[1]}.{1 + digest[2] % 254}"


def _stamp(seconds: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds if seconds is not None else time.time()))


def machine_body(sub: str, appliance: ApplianceSeed, machine: MachineSeed) -> dict[str, Any]:
    kind = site_kind(machine.source_type)
    site = site_id(sub, appliance.resource_group, appliance.name, kind)
    name = machine_name(appliance.name, machine.name)
    ip = machine.ip_address or machine_ip(machine.name)
    linux = machine.os_type == "Linux"
    disks = [
        {
            "name": f"scsi0:{i}" if kind == VMWARE_SITES else f"disk{i}",
            "label": f"Hard disk {i + 1}",
            "uuid": str(uuid.uuid5(_NAMESPACE, f"{name}/disk{i}")),
            "maxSizeInBytes": size * 1024**3,
            "diskType": "persistent",
            "isOSDisk": i == 0,
        }
        for i, size in enumerate(machine.disks_gb)
    ]
    now = _stamp()
    props: dict[str, Any] = {
        "displayName": machine.name,
        "instanceUuid": str(uuid.uuid5(_NAMESPACE, f"{name}/instance")),
        "biosId": str(uuid.uuid5(_NAMESPACE, f"{name}/bios")).upper(),
        "fqdn": f"{machine.name}.corp.contoso.com",
        "powerStatus": "ON",
        "numberOfProcessorCore": machine.cores,
        "allocatedMemoryInMb": machine.memory_mb,
        "firmware": "BIOS",
        "operatingSystemDetails": {
            "osType": "linuxguest" if linux else "windowsguest",
            "osName": machine.os_name,
            "osVersion": "",
            "osArchitecture": "x64",
        },
        "disks": disks,
        "networkAdapters": [
            {
                "label": "Network adapter 1",
                "nicId": str(uuid.uuid5(_NAMESPACE, f"{name}/nic0")),
                "macAddress": "00:50:56:" + ":".join(f"{b:02x}" for b in hashlib.sha256(name.encode()).digest()[:3]),
                "ipAddressList": [ip],
            }
        ],
        "sourceType": machine.source_type,
        "mobilityAgent": {
            "installed": machine.mobility_agent,
            "version": MOBILITY_AGENT_VERSION if machine.mobility_agent else None,
        },
        "applianceNames": [appliance.name],
        "createdTimestamp": now,
        "updatedTimestamp": now,
    }
    return {"id": f"{site}/machines/{name}", "name": name, "type": f"{kind}/machines", "properties": props}


def site_body(sub: str, appliance: ApplianceSeed, kind: str) -> dict[str, Any]:
    rid = site_id(sub, appliance.resource_group, appliance.name, kind)
    return {
        "id": rid,
        "name": rid.rsplit("/", 1)[1],
        "type": kind,
        "location": appliance.location,
        "properties": {
            "applianceName": appliance.name,
            "discoverySolutionId": (
                f"/subscriptions/{sub}/resourceGroups/{appliance.resource_group}/providers/Microsoft.Migrate/"
                f"MigrateProjects/{appliance.resource_group}-project/Solutions/Servers-Discovery-ServerDiscovery"
            ),
            "provisioningState": "Succeeded",
        },
    }


def machines_of(world: World, appliance: str, *, copy: bool = True) -> list[dict[str, Any]]:
    """Every machine an appliance discovered, across its sites. `copy=False`: the stored bodies
    themselves, for a caller that only reads them (the fabric lists one agent per machine)."""
    wanted = appliance.lower()
    with world.lock:
        keys = [
            k
            for kind in (VMWARE_SITES, SERVER_SITES)
            for k in world.type_keys(f"{kind}/machines")
            if str((world.meta.get(k) or {}).get("appliance", "")).lower() == wanted
        ]
        return [world.require(k) if copy else world.resources[k] for k in keys]


def find_machine(world: World, machine_id: str) -> dict[str, Any] | None:
    found = world.get(machine_id)
    if found is None or not found.get("type", "").lower().endswith("sites/machines"):
        return None
    return found


# -- handlers --------------------------------------------------------------------------------------
def _site_path(req: ArmRequest) -> str:
    p = req.params
    return (
        f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}/providers/"
        f"Microsoft.OffAzure/{p['siteType']}/{p['siteName']}"
    )


def _require_site(req: ArmRequest) -> dict[str, Any]:
    site = req.world.get(_site_path(req))
    if site is None:
        require_group(req)
        raise not_found(_site_path(req))
    return site


def get_site(req: ArmRequest) -> ArmResponse:
    return ArmResponse(200, _require_site(req))


def list_machines(req: ArmRequest) -> ArmResponse:
    site = _require_site(req)
    with req.world.lock:
        refs = [{"id": req.world.resources[k]["id"]} for k in req.world.child_keys(site["id"], "machines")]
    # Page the references, then copy only the page (an appliance may discover thousands).
    response = paged(req, refs)
    response.body["value"] = [req.world.require(r["id"]) for r in response.body["value"]]
    return response


def get_machine(req: ArmRequest) -> ArmResponse:
    site = _require_site(req)
    machine = req.world.get(f"{site['id']}/machines/{req.params['machineName']}")
    if machine is None:
        raise not_found(f"{site['id']}/machines/{req.params['machineName']}")
    return ArmResponse(200, machine)


def register(router: Router) -> None:
    for kind in ("VMwareSites", "serverSites"):
        base = SITES.replace("{siteType}", kind)
        # `siteType` is fixed per route; the handler reads it back from params.
        router.add("GET", base + "/{siteName}", _with_kind(get_site, kind))
        router.add("GET", base + "/{siteName}/machines", _with_kind(list_machines, kind))
        router.add("GET", base + "/{siteName}/machines/{machineName}", _with_kind(get_machine, kind))


def _with_kind(handler: Any, kind: str) -> Any:
    def bound(req: ArmRequest) -> ArmResponse:
        req.params["siteType"] = kind
        return handler(req)

    return bound


def seed_appliance(world: World, appliance: ApplianceSeed) -> None:
    sub = world.scenario.subscription_id
    kinds = {site_kind(m.source_type) for m in appliance.machines} or {VMWARE_SITES}
    for kind in sorted(kinds):
        world.put(site_body(sub, appliance, kind))
    for machine in appliance.machines:
        body = world.put(machine_body(sub, appliance, machine))
        world.meta_of(body["id"]).update({"appliance": appliance.name, "server": machine.name, "fault": machine.fault})


def seed(world: World) -> None:
    for appliance in world.scenario.appliances:
        seed_appliance(world, appliance)
