"""Microsoft.Compute virtualMachines: the VMs Site Recovery makes (test failover and failover).

Nobody but Site Recovery creates VMs in the sandbox, so PUT is not served; GET, the two lists and
DELETE are (a test VM is deleted by its test failover cleanup, a person may delete a migrated VM).
Each VM has a network interface in the subnet it was failed over into
(`Microsoft.Network/networkInterfaces/{vm}-nic`, served by the network provider), so the subnet
shows it in use. Hidden facts in `world.meta_of(vm_id)`: `protected_item_id` (which item made it)
and `test` (a test failover VM).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from plmigrate.sandbox import lro
from plmigrate.sandbox.apiversions import Served, served
from plmigrate.sandbox.arm import ArmRequest, ArmResponse, Router, not_found, paged
from plmigrate.sandbox.providers import network
from plmigrate.sandbox.providers.resources import require_group
from plmigrate.sandbox.world import World

# Microsoft.Compute virtual machine versions (compute specs); 2024-07-01 is what tasks/replication.py
# reads the migrated VMs with (no SDK client).
API_VERSIONS: dict[str, Served] = {
    "Microsoft.Compute/virtualMachines": served(
        "2023-03-01", "2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01"
    ),
}


VM_TYPE = "Microsoft.Compute/virtualMachines"
NIC_TYPE = "Microsoft.Network/networkInterfaces"
VMS = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines"


def vm_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{VM_TYPE}/{name}"


def create_vm(
    world: World,
    *,
    resource_group_id: str,
    name: str,
    location: str,
    size: str,
    os_type: str,
    disks_gb: list[int],
    subnet_id: str,
    ip_address: str | None,
    protected_item_id: str,
    test: bool,
    tags: dict[str, str] | None = None,
    nic_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Make (or remake) a failed-over VM with its NIC and managed disks' references."""
    rid = f"{resource_group_id}/providers/{VM_TYPE}/{name}"
    nic_id = f"{resource_group_id}/providers/{NIC_TYPE}/{name}-nic"
    disk_base = f"{resource_group_id}/providers/Microsoft.Compute/disks/{name}"
    created = time.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00", time.gmtime())
    nic = {
        "id": nic_id,
        "name": f"{name}-nic",
        "type": NIC_TYPE,
        "location": location,
        "tags": dict(nic_tags or {}),
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [
                {
                    "id": f"{nic_id}/ipConfigurations/ipconfig1",
                    "name": "ipconfig1",
                    "type": f"{NIC_TYPE}/ipConfigurations",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": ip_address,
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "subnet": {"id": subnet_id},
                        "primary": True,
                    },
                }
            ],
            "virtualMachine": {"id": rid},
            "nicType": "Standard",
        },
    }
    vm = {
        "id": rid,
        "name": name,
        "type": VM_TYPE,
        "location": location,
        "tags": dict(tags or {}),
        "properties": {
            "vmId": str(uuid.uuid4()),
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "osDisk": {
                    "osType": os_type,
                    "name": f"{name}-osdisk",
                    "createOption": "Attach",
                    "diskSizeGB": disks_gb[0] if disks_gb else 128,
                    "managedDisk": {"id": f"{disk_base}-osdisk"},
                },
                "dataDisks": [
                    {
                        "lun": i,
                        "name": f"{name}-datadisk-{i}",
                        "createOption": "Attach",
                        "diskSizeGB": size_gb,
                        "managedDisk": {"id": f"{disk_base}-datadisk-{i}"},
                    }
                    for i, size_gb in enumerate(disks_gb[1:])
                ],
            },
            "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]},
            "provisioningState": "Succeeded",
            "timeCreated": created,
        },
    }
    with world.lock:
        world.put(nic)
        stored = world.put(vm)
        world.meta_of(rid).update({"protected_item_id": protected_item_id, "test": test})
        network.sync_vnet(world, subnet_id.rsplit("/subnets/", 1)[0])
    return stored


def delete_vm(world: World, resource_id: str) -> bool:
    """Delete a VM and its NIC; False if it was not there."""
    with world.lock:
        vm = world.get(resource_id)
        if vm is None:
            return False
        vnets = set()
        for ref in vm["properties"].get("networkProfile", {}).get("networkInterfaces", []):
            nic = world.get(ref["id"]) or {"properties": {}}
            for config in nic["properties"].get("ipConfigurations", []):
                vnets.add(config["properties"]["subnet"]["id"].rsplit("/subnets/", 1)[0])
            world.delete(ref["id"])
        world.delete(resource_id)
        for vnet in vnets:
            network.sync_vnet(world, vnet)
        return True


def _path_id(req: ArmRequest) -> str:
    return vm_id(req.params["subscriptionId"], req.params["resourceGroupName"], req.params["vmName"])


def get_vm(req: ArmRequest) -> ArmResponse:
    vm = req.world.get(_path_id(req))
    if vm is None:
        require_group(req)
        raise not_found(_path_id(req))
    return ArmResponse(200, vm)


def list_vms_in_group(req: ArmRequest) -> ArmResponse:
    rg = require_group(req)
    return paged(req, req.world.by_type(VM_TYPE, rg["id"]))


def list_vms_in_subscription(req: ArmRequest) -> ArmResponse:
    return paged(req, req.world.by_type(VM_TYPE, f"/subscriptions/{req.params['subscriptionId']}"))


def delete_vm_route(req: ArmRequest) -> ArmResponse:
    if not delete_vm(req.world, _path_id(req)):
        return ArmResponse(204)
    return lro.accepted(req, 202, None, style="both")


def register(router: Router) -> None:
    router.add("GET", VMS + "/{vmName}", get_vm)
    router.add("DELETE", VMS + "/{vmName}", delete_vm_route, lro=True)
    router.add("GET", VMS, list_vms_in_group)
    router.add(
        "GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachines", list_vms_in_subscription
    )


def seed(world: World) -> None:
    # No VMs exist before Site Recovery makes them.
    pass
