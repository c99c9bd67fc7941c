"""Site Recovery (agent-based, InMageRcm) in the sandbox, through the real SiteRecoveryManagementClient.

Appliance registration, the vault's infrastructure reads, the discovered machines (Microsoft.OffAzure,
through the client's pipeline), and a protected item's life: enable, initial replication, test
failover and cleanup, failover, commit, remove; refusals of what `allowedOperations` does not list.
Time is Site Recovery's scaled clock: jobs take a fraction of a second, initial replication is
finished with the admin API's `advance`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from plmigrate.azure import SITE_RECOVERY_API_VERSION, AzureClients, Target, arm_error, clients
from plmigrate.sandbox import Sandbox
from plmigrate.sandbox.serve import AdminClient, AdminError
from tasks.replication import Vault, observe

SUB = "00000000-0000-0000-0000-00000000a11e"
RG = f"/subscriptions/{SUB}/resourceGroups"
VNET_PROD = f"{RG}/rg-target/providers/Microsoft.Network/virtualNetworks/vnet-prod"
VNET_TEST = f"{RG}/rg-target/providers/Microsoft.Network/virtualNetworks/vnet-test"
VNET_HUB = f"{RG}/rg-mig/providers/Microsoft.Network/virtualNetworks/vnet-hub"
CACHE = f"{RG}/rg-mig/providers/Microsoft.Storage/storageAccounts/stcache01"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ASR_ZONE = "privatelink.siterecovery.windowsazure.com"
ROLES = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"


def scenario(**site_recovery: float) -> dict[str, Any]:
    """A small world: a hub VNet (endpoints, DNS forwarder), target and isolated test VNets, a cache
    account open to the public, and appliance app-01 that discovered three servers."""
    return {
        "resource_groups": [{"name": "rg-mig", "location": "eastus"}, {"name": "rg-target", "location": "eastus"}],
        "virtual_networks": [
            {
                "resource_group": "rg-mig",
                "name": "vnet-hub",
                "location": "eastus",
                "address_prefixes": ["10.20.0.0/16"],
                "subnets": [{"name": "snet-pe", "address_prefix": "10.20.1.0/24"}],
            },
            {
                "resource_group": "rg-target",
                "name": "vnet-prod",
                "location": "eastus",
                "address_prefixes": ["10.1.0.0/16"],
                "subnets": [{"name": "snet-app", "address_prefix": "10.1.1.0/24"}],
            },
            {
                "resource_group": "rg-target",
                "name": "vnet-test",
                "location": "eastus",
                "address_prefixes": ["10.9.0.0/16"],
                "subnets": [{"name": "snet-app", "address_prefix": "10.9.1.0/24"}],
            },
        ],
        "storage_accounts": [{"resource_group": "rg-mig", "name": "stcache01", "location": "eastus"}],
        "dns_forwarders": [{"zone": "eus.siterecovery.windowsazure.com", "vnet_id": VNET_HUB}],
        "appliances": [
            {
                "name": "app-01",
                "resource_group": "rg-mig",
                "machines": [
                    {"name": "srv-web-01", "disks_gb": [128, 256]},
                    {"name": "srv-lnx-01", "source_type": "physical", "os_type": "Linux", "os_name": "Ubuntu 22.04"},
                    {"name": "srv-noagent", "mobility_agent": False},
                ],
            }
        ],
        "throttling": {"enabled": False},
        "identity": {"principal_not_found_seconds": 0},
        "site_recovery": {
            "enable_seconds": 0.05,
            "initial_replication_seconds": 30,
            "test_failover_seconds": 0.05,
            "test_failover_cleanup_seconds": 0.05,
            "failover_seconds": 0.05,
            "commit_seconds": 0.05,
            "disable_seconds": 0.05,
            "update_seconds": 0.05,
            "repair_seconds": 0.05,
            **site_recovery,
        },
    }


@dataclass
class World:
    """A sandbox with a vault (identity granted on the cache account) and app-01 registered."""

    box: Sandbox
    azure: AzureClients
    admin: AdminClient
    vault_id: str
    reg: dict[str, Any]

    @property
    def sr(self) -> Any:
        return self.azure.siterecovery

    def item_args(self, name: str) -> tuple[str, str, str, str, str]:
        return ("rg-mig", "rsv1", self.reg["fabric"], self.reg["container"], name)

    def machines(self, site_id: str) -> list[dict[str, Any]]:
        url = f"{self.box.info.arm_url}{site_id}/machines?api-version=2023-06-06"
        response = self.sr._client.send_request(HttpRequest("GET", url))
        assert response.status_code == 200, response.text()
        return list(response.json()["value"])

    def machine_id(self, server: str) -> str:
        fabric = self.sr.replication_fabrics.get("rg-mig", "rsv1", self.reg["fabric"])
        details = fabric.properties.custom_details
        for site in (details.vmware_site_id, details.physical_site_id):
            for machine in self.machines(site):
                if machine["properties"]["displayName"] == server:
                    return str(machine["id"])
        raise AssertionError(f"{server} not discovered")

    def enable_input(self, server: str, **changes: Any) -> dict[str, Any]:
        details = {
            "instanceType": "InMageRcm",
            "fabricDiscoveryMachineId": self.machine_id(server),
            "processServerId": self.reg["process_server_id"],
            "targetResourceGroupId": f"{RG}/rg-target",
            "targetNetworkId": VNET_PROD,
            "targetSubnetName": "snet-app",
            "testNetworkId": VNET_TEST,
            "testSubnetName": "snet-app",
            "targetVmName": server,
            "targetVmSize": "Standard_D2s_v3",
            "licenseType": "WindowsServer",
            "disksDefault": {"logStorageAccountId": CACHE, "diskType": "Standard_LRS"},
            **changes,
        }
        return {"properties": {"policyId": self.reg["policy_id"], "providerSpecificDetails": details}}

    def enable(self, server: str, **changes: Any) -> Any:
        return self.sr.replication_protected_items.begin_create(
            *self.item_args(server), self.enable_input(server, **changes)
        ).result()

    def get(self, server: str) -> Any:
        return self.sr.replication_protected_items.get(*self.item_args(server))

    def get_vm(self, vm_id: str) -> tuple[int, Any]:
        response = self.sr._client.send_request(
            HttpRequest("GET", f"{self.box.info.arm_url}{vm_id}?api-version=2024-07-01")
        )
        return response.status_code, response.json() if response.text() else None


def make_vault(azure: AzureClients, public: str = "Enabled") -> Any:
    return azure.recoveryservices.vaults.begin_create_or_update(
        "rg-mig",
        "rsv1",
        {
            "location": "eastus",
            "identity": {"type": "SystemAssigned"},
            "sku": {"name": "Standard"},
            "properties": {"publicNetworkAccess": public},
        },
    ).result()


def grant(azure: AzureClients, principal_id: str, scope: str, *roles: str) -> None:
    for role in roles:
        azure.authorization.role_assignments.create(
            scope,
            str(uuid.uuid4()),
            {
                "properties": {
                    "roleDefinitionId": f"{ROLES}/{role}",
                    "principalId": principal_id,
                    "principalType": "ServicePrincipal",
                }
            },
        )


@pytest.fixture
def world(make_sandbox: Callable[..., Sandbox]) -> World:
    box = make_sandbox(scenario())
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR, BLOB_DATA_CONTRIBUTOR)
    admin = AdminClient(box.info)
    reg = admin.register_appliance(vault.id, "app-01")
    return World(box, azure, admin, vault.id, reg)


def vault_endpoint(azure: AzureClients, vault_id: str) -> Any:
    """The vault's Site Recovery private endpoint in the hub VNet (approved: we may approve)."""
    return azure.network.private_endpoints.begin_create_or_update(
        "rg-mig",
        "pe-rsv1",
        {
            "location": "eastus",
            "properties": {
                "subnet": {"id": f"{VNET_HUB}/subnets/snet-pe"},
                "privateLinkServiceConnections": [
                    {"name": "asr", "properties": {"privateLinkServiceId": vault_id, "groupIds": ["AzureSiteRecovery"]}}
                ],
            },
        },
    ).result()


def private_dns_for(azure: AzureClients, endpoint_name: str) -> None:
    """The zone, its link to the hub VNet (where on-prem DNS forwards) and the endpoint's zone group."""
    zone = azure.privatedns.private_zones.begin_create_or_update("rg-mig", ASR_ZONE, {"location": "global"}).result()
    azure.privatedns.virtual_network_links.begin_create_or_update(
        "rg-mig",
        ASR_ZONE,
        "hub",
        {"location": "global", "properties": {"virtualNetwork": {"id": VNET_HUB}, "registrationEnabled": False}},
    ).result()
    azure.network.private_dns_zone_groups.begin_create_or_update(
        "rg-mig",
        endpoint_name,
        "default",
        {"properties": {"privateDnsZoneConfigs": [{"name": "asr", "properties": {"privateDnsZoneId": zone.id}}]}},
    ).result()


# -- registration and infrastructure ----------------------------------------------------------------
def test_registration_makes_fabric_container_policy_and_process_server(world: World) -> None:
    sr, reg = world.sr, world.reg
    fabrics = list(sr.replication_fabrics.list("rg-mig", "rsv1"))
    assert [f.name for f in fabrics] == [reg["fabric"]]
    fabric = sr.replication_fabrics.get("rg-mig", "rsv1", reg["fabric"])
    details = fabric.properties.custom_details
    assert details.instance_type == "InMageRcm"
    assert fabric.properties.friendly_name == "app-01"
    assert details.vmware_site_id.endswith("/Microsoft.OffAzure/VMwareSites/app-01-vmwaresite")
    assert details.physical_site_id.endswith("/Microsoft.OffAzure/serverSites/app-01-serversite")
    [ps] = details.process_servers
    assert (ps.id, ps.name, ps.health) == (reg["process_server_id"], "app-01", "Normal")
    assert ps.last_heartbeat_utc is not None
    # The agents registered from the discovered machines: not the one without the mobility agent.
    assert sorted(a.name for a in details.replication_agents) == ["srv-lnx-01", "srv-web-01"]

    containers = list(sr.replication_protection_containers.list_by_replication_fabrics("rg-mig", "rsv1", reg["fabric"]))
    assert [c.id for c in containers] == [reg["container_id"]]
    assert [c.name for c in sr.replication_protection_containers.list("rg-mig", "rsv1")] == [reg["container"]]
    container = sr.replication_protection_containers.get("rg-mig", "rsv1", reg["fabric"], reg["container"])
    assert container.properties.fabric_type == "InMageRcm"
    [mapping] = sr.replication_protection_container_mappings.list_by_replication_protection_containers(
        "rg-mig", "rsv1", reg["fabric"], reg["container"]
    )
    assert mapping.properties.policy_id == reg["policy_id"]
    policy = sr.replication_policies.get("rg-mig", "rsv1", reg["policy_id"].rsplit("/", 1)[1])
    assert policy.properties.provider_specific_details.instance_type == "InMageRcm"
    assert [p.id for p in sr.replication_policies.list("rg-mig", "rsv1")] == [policy.id]
    [appliance] = sr.replication_appliances.list("rg-mig", "rsv1")
    [details_of] = appliance.properties.provider_specific_details.appliances
    assert (details_of.name, details_of.fabric_arm_id) == ("app-01", fabric.id)
    [provider] = sr.replication_recovery_services_providers.list("rg-mig", "rsv1")
    assert provider.properties.friendly_name == "app-01"
    assert provider.properties.connection_status == "Connected"
    [same] = sr.replication_recovery_services_providers.list_by_replication_fabrics("rg-mig", "rsv1", reg["fabric"])
    assert same.id == provider.id
    # Registering again changes nothing.
    assert world.admin.register_appliance(world.vault_id, "app-01") == reg


def test_discovered_machines_through_the_clients_pipeline(world: World) -> None:
    fabric = world.sr.replication_fabrics.get("rg-mig", "rsv1", world.reg["fabric"])
    vmware = world.machines(fabric.properties.custom_details.vmware_site_id)
    physical = world.machines(fabric.properties.custom_details.physical_site_id)
    by_name = {m["properties"]["displayName"]: m for m in vmware + physical}
    assert sorted(by_name) == ["srv-lnx-01", "srv-noagent", "srv-web-01"]
    web = by_name["srv-web-01"]
    assert web["type"] == "Microsoft.OffAzure/VMwareSites/machines"
    assert [d["maxSizeInBytes"] for d in web["properties"]["disks"]] == [128 * 1024**3, 256 * 1024**3]
    assert web["properties"]["operatingSystemDetails"]["osType"] == "windowsguest"
    assert by_name["srv-lnx-01"]["type"] == "Microsoft.OffAzure/serverSites/machines"
    assert by_name["srv-noagent"]["properties"]["mobilityAgent"]["installed"] is False
    url = f"{world.box.info.arm_url}{web['id']}?api-version=2023-06-06"
    assert world.sr._client.send_request(HttpRequest("GET", url)).json() == web
    missing = world.sr._client.send_request(HttpRequest("GET", url.replace(web["name"], str(uuid.uuid4()))))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"


def test_registration_fails_until_the_vaults_names_resolve_from_on_prem(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    box = make_sandbox(scenario())
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure, public="Disabled")
    admin = AdminClient(box.info)
    with pytest.raises(AdminError) as refused:
        admin.register_appliance(vault.id, "app-01")
    assert refused.value.code == "PrivateEndpointConnectionNotApproved"
    endpoint = vault_endpoint(azure, vault.id)
    with pytest.raises(AdminError) as refused:
        admin.register_appliance(vault.id, "app-01")
    # No private DNS zone yet: on-prem DNS answers the public address.
    assert refused.value.code == "ServiceEndpointNotReachableOverPrivateLink"
    fqdn = endpoint.custom_dns_configs[0].fqdn
    assert f"'{fqdn}' resolved to 20." in refused.value.message
    assert "conditional forwarder" in refused.value.message
    private_dns_for(azure, "pe-rsv1")
    made = admin.register_appliance(vault.id, "app-01")
    assert made["health"] == "Normal"
    assert next(iter(azure.siterecovery.replication_fabrics.list("rg-mig", "rsv1"))).name == made["fabric"]


def test_unknown_appliance_or_vault_is_refused(world: World) -> None:
    with pytest.raises(AdminError) as refused:
        world.admin.register_appliance(world.vault_id, "app-99")
    assert (refused.value.status, refused.value.code) == (404, "ApplianceNotFound")
    with pytest.raises(AdminError) as refused:
        world.admin.register_appliance(world.vault_id + "x", "app-01")
    assert (refused.value.status, refused.value.code) == (404, "VaultNotFound")


# -- a protected item's life ------------------------------------------------------------------------
def test_enable_then_initial_replication_then_protected(world: World) -> None:
    sr = world.sr
    poller = sr.replication_protected_items.begin_create(
        *world.item_args("srv-web-01"), world.enable_input("srv-web-01")
    )
    headers = poller.polling_method()._initial_response.http_response.headers  # type: ignore[attr-defined]
    job_name = headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]
    item = poller.result()
    job = sr.replication_jobs.get("rg-mig", "rsv1", job_name)
    assert (job.properties.scenario_name, job.properties.state) == ("EnableDr", "Succeeded")
    assert job.properties.target_object_name == "srv-web-01"
    assert all(t.state == "Succeeded" for t in job.properties.tasks)
    props = item.properties
    assert props.protection_state == "InitialReplicationInProgress"
    assert props.allowed_operations == ["DisableProtection"]
    assert props.protected_item_type == "VmwareVirtualMachine"
    assert props.policy_id == world.reg["policy_id"]
    details = props.provider_specific_details
    assert details.instance_type == "InMageRcm"
    assert details.fabric_discovery_machine_id == world.machine_id("srv-web-01")
    assert details.process_server_id == world.reg["process_server_id"]
    assert details.storage_account_id == CACHE
    assert details.target_vm_name == "srv-web-01"
    assert details.vm_nics[0].target_subnet_name == "snet-app"
    assert len(details.protected_disks) == 2
    assert details.last_recovery_point_id is None
    assert 0 <= details.initial_replication_progress_percentage < 100

    world.admin.advance(12)
    details = world.get("srv-web-01").properties.provider_specific_details
    assert 35 <= details.initial_replication_progress_percentage <= 45
    assert details.initial_replication_progress_health == "InProgress"

    world.admin.advance(20)
    item = world.get("srv-web-01")
    assert item.properties.protection_state == "Protected"
    assert item.properties.replication_health == "Normal"
    assert item.properties.allowed_operations == ["TestFailover", "UnplannedFailover", "DisableProtection"]
    details = item.properties.provider_specific_details
    assert details.initial_replication_progress_percentage == 100
    assert details.last_recovery_point_id.startswith(item.id + "/recoveryPoints/")
    assert details.last_rpo_in_seconds is not None

    listed = list(sr.replication_protected_items.list_by_replication_protection_containers(*world.item_args("x")[:4]))
    assert [i.name for i in listed] == ["srv-web-01"]
    assert [i.id for i in sr.replication_protected_items.list("rg-mig", "rsv1")] == [item.id]


def test_a_running_job_shows_on_the_item_and_blocks_other_writes(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(scenario(enable_seconds=600))
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR, BLOB_DATA_CONTRIBUTOR)
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    # Not waited for: the 202 has no body, the job runs for ten minutes of Site Recovery time.
    w.sr.replication_protected_items.begin_create(
        *w.item_args("srv-web-01"), w.enable_input("srv-web-01"), polling=False
    )
    item = w.get("srv-web-01")
    assert item.properties.protection_state == "EnablingProtection"
    assert item.properties.allowed_operations == []
    job_id = item.properties.current_scenario.job_id
    assert item.properties.current_scenario.scenario_name == "EnableDr"
    job = w.sr.replication_jobs.get("rg-mig", "rsv1", job_id.rsplit("/", 1)[1])
    assert job.properties.state == "InProgress"
    assert next(t.state for t in job.properties.tasks) in {"InProgress", "Succeeded"}
    with pytest.raises(HttpResponseError) as refused:
        w.sr.replication_protected_items.begin_test_failover(
            *w.item_args("srv-web-01"), {"properties": {"failoverDirection": "PrimaryToRecovery"}}
        ).result()
    assert refused.value.status_code == 409
    assert refused.value.error.code == "OperationInProgress"
    assert "'EnableDr'" in refused.value.error.message
    with pytest.raises(HttpResponseError) as again:
        w.sr.replication_protected_items.begin_create(*w.item_args("srv-web-01"), w.enable_input("srv-web-01"))
    assert again.value.error.code == "OperationInProgress"
    admin.advance(601)
    assert w.get("srv-web-01").properties.protection_state == "InitialReplicationInProgress"
    with pytest.raises(HttpResponseError) as already:
        w.sr.replication_protected_items.begin_create(*w.item_args("srv-web-01"), w.enable_input("srv-web-01"))
    assert (already.value.status_code, already.value.error.code) == (409, "ProtectionAlreadyEnabled")


def test_test_failover_cleanup_failover_commit_remove(world: World) -> None:
    sr = world.sr
    world.enable(
        "srv-web-01",
        targetVmTags=[{"tagName": "managed-by", "tagValue": "plmigrate"}],
        targetNicTags=[{"tagName": "app", "tagValue": "ledger"}],
    )
    world.admin.advance(31)
    args = world.item_args("srv-web-01")
    test_input = {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "networkType": "VmNetworkAsInput",
            "networkId": VNET_TEST,
            "providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": VNET_TEST},
        }
    }
    item = sr.replication_protected_items.begin_test_failover(*args, test_input).result()
    assert item.properties.test_failover_state == "WaitingForCompletion"
    assert item.properties.allowed_operations == ["TestFailoverCleanup"]
    assert item.properties.last_successful_test_failover_time is not None
    # While the test VM runs, neither a cutover nor removing the replication is allowed.
    for refused_call in (
        lambda: sr.replication_protected_items.begin_unplanned_failover(*args, {"properties": {}}),
        lambda: sr.replication_protected_items.begin_delete(*args, {"properties": {}}),
    ):
        with pytest.raises(HttpResponseError) as refused:
            refused_call().result()
        assert refused.value.error.code == "OperationNotAllowed"
        assert "Allowed operations: TestFailoverCleanup." in refused.value.error.message
    test_vm = f"{RG}/rg-target/providers/Microsoft.Compute/virtualMachines/srv-web-01-test"
    status, vm = world.get_vm(test_vm)
    assert status == 200
    assert vm["tags"] == {"managed-by": "plmigrate"}
    nic_id = vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
    nic = world.azure.network.network_interfaces.get("rg-target", nic_id.rsplit("/", 1)[1])
    assert nic.ip_configurations[0].subnet.id == f"{VNET_TEST}/subnets/snet-app"
    assert nic.ip_configurations[0].private_ip_address.startswith("10.9.1.")

    item = sr.replication_protected_items.begin_test_failover_cleanup(
        *args, {"properties": {"comments": "test migration checked"}}
    ).result()
    assert item.properties.test_failover_state == "None"
    assert world.get_vm(test_vm)[0] == 404

    failover = {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "sourceSiteOperations": "Required",
            "providerSpecificDetails": {"instanceType": "InMageRcm", "performShutdown": "true"},
        }
    }
    item = sr.replication_protected_items.begin_unplanned_failover(*args, failover).result()
    assert item.properties.protection_state == "UnplannedFailoverCompleted"
    assert item.properties.active_location == "Recovery"
    assert item.properties.allowed_operations == ["Commit", "DisableProtection"]
    vm_id = f"{RG}/rg-target/providers/Microsoft.Compute/virtualMachines/srv-web-01"
    status, vm = world.get_vm(vm_id)
    assert status == 200
    assert vm["properties"]["hardwareProfile"]["vmSize"] == "Standard_D2s_v3"
    assert vm["tags"] == {"managed-by": "plmigrate"}  # targetVmTags
    nic = world.azure.network.network_interfaces.get("rg-target", "srv-web-01-nic")
    assert nic.tags == {"app": "ledger"}  # targetNicTags
    machine = next(
        m
        for m in world.machines(world.machine_id("srv-web-01").split("/machines/")[0])
        if m["id"].endswith(world.machine_id("srv-web-01").rsplit("/", 1)[1])
    )
    assert machine["properties"]["powerStatus"] == "OFF"  # performShutdown

    item = sr.replication_protected_items.begin_failover_commit(*args).result()
    assert item.properties.protection_state == "CommitFailoverCompleted"
    assert item.properties.allowed_operations == ["DisableProtection"]

    sr.replication_protected_items.begin_delete(
        *args, {"properties": {"disableProtectionReason": "MigrationComplete"}}
    ).result()
    with pytest.raises(ResourceNotFoundError):
        world.get("srv-web-01")
    assert world.get_vm(vm_id)[0] == 200  # the migrated VM is kept
    scenarios = {j.properties.scenario_name: j.properties.state for j in sr.replication_jobs.list("rg-mig", "rsv1")}
    assert scenarios == {
        "EnableDr": "Succeeded",
        "TestFailover": "Succeeded",
        "TestFailoverCleanup": "Succeeded",
        "UnplannedFailover": "Succeeded",
        "CommitFailover": "Succeeded",
        "DisableDr": "Succeeded",
    }


@pytest.mark.parametrize(
    ("call", "operation"),
    [
        ("test_failover", "TestFailover"),
        ("unplanned_failover", "UnplannedFailover"),
        ("failover_commit", "Commit"),
        ("test_failover_cleanup", "TestFailoverCleanup"),
        ("repair_replication", "RepairReplication"),
    ],
)
def test_operations_not_allowed_during_initial_replication_are_refused(world: World, call: str, operation: str) -> None:
    world.enable("srv-web-01")
    method = getattr(world.sr.replication_protected_items, f"begin_{call}")
    body = {"properties": {"failoverDirection": "PrimaryToRecovery"}}
    with pytest.raises(HttpResponseError) as refused:
        (
            method(*world.item_args("srv-web-01"))
            if call in {"failover_commit", "repair_replication"}
            else method(*world.item_args("srv-web-01"), body)
        ).result()
    assert refused.value.status_code == 400
    assert refused.value.error.code == "OperationNotAllowed"
    assert refused.value.error.message == (
        f"The operation '{operation}' is not allowed on the replicated item 'srv-web-01' in its current state "
        "'InitialReplicationInProgress'. Allowed operations: DisableProtection."
    )


def test_purge_removes_an_item_in_any_state_and_is_idempotent(world: World) -> None:
    world.enable("srv-web-01")
    args = world.item_args("srv-web-01")
    world.sr.replication_protected_items.begin_purge(*args).result()
    with pytest.raises(ResourceNotFoundError):
        world.get("srv-web-01")
    world.sr.replication_protected_items.begin_purge(*args).result()  # already gone: 204


# -- Azure's preconditions: the enable job fails as it would in Azure --------------------------------
def failed_job(world: World, server: str, **changes: Any) -> tuple[HttpResponseError, Any, Any]:
    """Enable replication expecting the job to fail; (the poller's error, the job, the item)."""
    poller = world.sr.replication_protected_items.begin_create(
        *world.item_args(server), world.enable_input(server, **changes)
    )
    with pytest.raises(HttpResponseError) as failed:
        poller.result()
    item = world.get(server)
    jobs = [j for j in world.sr.replication_jobs.list("rg-mig", "rsv1") if j.properties.target_object_name == server]
    return failed.value, max(jobs, key=lambda j: j.properties.start_time), item


def assert_failed(world: World, server: str, code: str, message_part: str, **changes: Any) -> Any:
    error, job, item = failed_job(world, server, **changes)
    assert arm_error(error)[0] == code
    assert job.properties.state == "Failed"
    [detail] = job.properties.errors
    service = detail.service_error_details
    assert service.code == code
    assert message_part in service.message, service.message
    assert service.possible_causes and service.recommended_action
    assert job.properties.tasks[0].state == "Failed"
    assert item.properties.protection_state == "EnablingFailed"
    assert item.properties.allowed_operations == ["DisableProtection"]
    assert item.properties.replication_health == "Critical"
    assert item.properties.health_errors[0].error_code == code
    assert item.properties.health_errors[0].recommended_action == service.recommended_action
    return service


def test_vault_endpoint_not_approved_with_public_access_disabled(world: World) -> None:
    world.azure.recoveryservices.vaults.begin_update(
        "rg-mig", "rsv1", {"properties": {"publicNetworkAccess": "Disabled"}}
    ).result()
    service = assert_failed(world, "srv-web-01", "PrivateEndpointConnectionNotApproved", "'rsv1'")
    assert "public network access disabled" in service.message


def test_vault_identity_without_roles_on_the_cache_account(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(scenario())
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR)  # the data role is missing
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    service = assert_failed(w, "srv-web-01", "StorageAccountAccessDenied", "Storage Blob Data Contributor")
    assert vault.identity.principal_id in service.message
    assert "Contributor," not in service.message  # only what is missing is named


def test_roles_granted_at_the_resource_group_count(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(scenario())
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, f"{RG}/rg-mig", CONTRIBUTOR, BLOB_DATA_CONTRIBUTOR)
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    assert w.enable("srv-web-01").properties.protection_state == "InitialReplicationInProgress"


def test_cache_account_denying_public_access_needs_an_approved_blob_endpoint(world: World) -> None:
    world.azure.storage.storage_accounts.update(
        "rg-mig", "stcache01", {"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}}
    )
    assert_failed(world, "srv-web-01", "StorageAccountPrivateEndpointNotApproved", "'stcache01'")


def test_premium_cache_account_is_refused(make_sandbox: Callable[..., Sandbox]) -> None:
    world_def = scenario()
    world_def["storage_accounts"][0]["sku"] = "Premium_LRS"
    box = make_sandbox(world_def)
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR, "b7e6dc6d-f1e8-4753-8033-0f276bb0955b")
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    service = assert_failed(w, "srv-web-01", "CacheStorageAccountTypeNotSupported", "(Premium_LRS)")
    assert "Standard general-purpose v2" in service.recommended_action


def test_cache_account_with_blob_soft_delete_is_refused(world: World) -> None:
    world.azure.storage.blob_services.set_service_properties(
        "rg-mig", "stcache01", {"properties": {"deleteRetentionPolicy": {"enabled": True, "days": 7}}}
    )
    service = assert_failed(world, "srv-web-01", "CacheStorageAccountSoftDeleteEnabled", "retention 7 day(s)")
    assert "Disable blob soft delete" in service.recommended_action


@pytest.mark.parametrize(
    ("changes", "code", "part"),
    [
        ({"targetResourceGroupId": f"{RG}/rg-nope"}, "TargetResourceGroupNotFound", "rg-nope"),
        ({"targetNetworkId": VNET_PROD + "-nope"}, "TargetNetworkNotFound", "vnet-prod-nope"),
        ({"targetSubnetName": "snet-nope"}, "TargetSubnetNotFound", "/subnets/snet-nope"),
        ({"testNetworkId": VNET_TEST + "-nope"}, "TestNetworkNotFound", "vnet-test-nope"),
        ({"testSubnetName": "snet-nope"}, "TestSubnetNotFound", "vnet-test/subnets/snet-nope"),
        (
            {"disksDefault": {"logStorageAccountId": CACHE + "x", "diskType": "Standard_LRS"}},
            "StorageAccountNotFound",
            "stcache01x",
        ),
    ],
)
def test_missing_targets_fail_the_enable_job(world: World, changes: dict[str, Any], code: str, part: str) -> None:
    assert_failed(world, "srv-web-01", code, part, **changes)


def test_machine_not_discovered_or_without_mobility_agent(world: World) -> None:
    other = world.machine_id("srv-web-01").rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    assert_failed(world, "srv-web-01", "DiscoveredMachineNotFound", "'app-01'", fabricDiscoveryMachineId=other)
    service = assert_failed(world, "srv-noagent", "MobilityServiceNotInstalled", "'srv-noagent'")
    assert "Install the Mobility service agent" in service.recommended_action
    # Once a person installs the agent, a new enable (PUT on the failed item) succeeds.
    world.admin.call("PATCH", "/siterecovery/machines/app-01/srv-noagent", {"mobility_agent": True})
    item = world.enable("srv-noagent")
    assert item.properties.protection_state == "InitialReplicationInProgress"
    assert item.properties.health_errors == []


@pytest.mark.parametrize(
    ("details", "code", "part"),
    [
        ({"instanceType": "VMwareCbt"}, "InvalidInput", "'VMwareCbt' is not supported"),
        ({"processServerId": str(uuid.UUID(int=7))}, "InvalidProcessServerId", "not registered with the fabric"),
        ({"fabricDiscoveryMachineId": None}, "InvalidInput", "providerSpecificDetails.fabricDiscoveryMachineId"),
        ({"disksDefault": None}, "InvalidInput", "disksDefault.logStorageAccountId"),
    ],
)
def test_malformed_enable_input_is_refused_before_any_job(
    world: World, details: dict[str, Any], code: str, part: str
) -> None:
    body = world.enable_input("srv-web-01", **details)
    with pytest.raises(HttpResponseError) as refused:
        world.sr.replication_protected_items.begin_create(*world.item_args("srv-web-01"), body)
    assert (refused.value.status_code, refused.value.error.code) == (400, code)
    assert part in refused.value.error.message
    with pytest.raises(ResourceNotFoundError):
        world.get("srv-web-01")


def test_unknown_policy_is_refused(world: World) -> None:
    body = world.enable_input("srv-web-01")
    body["properties"]["policyId"] = world.reg["policy_id"] + "x"
    with pytest.raises(HttpResponseError) as refused:
        world.sr.replication_protected_items.begin_create(*world.item_args("srv-web-01"), body)
    assert (refused.value.status_code, refused.value.error.code) == (400, "PolicyNotFound")


def test_replication_waits_for_the_appliance_to_resolve_the_vaults_names(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(scenario())
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure, public="Disabled")
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR, BLOB_DATA_CONTRIBUTOR)
    endpoint = vault_endpoint(azure, vault.id)
    private_dns_for(azure, "pe-rsv1")
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    # Then on-prem DNS breaks: a stale answer for one of the vault's names.
    fqdn = endpoint.custom_dns_configs[0].fqdn
    admin.call("PUT", "/dns/faults", {"stale": {fqdn: "20.1.2.3"}})
    item = w.enable("srv-web-01")  # the job itself succeeds
    assert item.properties.protection_state == "InitialReplicationInProgress"
    admin.advance(60)
    item = w.get("srv-web-01")
    assert item.properties.provider_specific_details.initial_replication_progress_percentage == 0
    assert item.properties.replication_health == "Critical"
    [error] = item.properties.health_errors
    assert error.error_code == "ServiceEndpointNotReachableOverPrivateLink"
    assert f"'{fqdn}' resolved to 20.1.2.3" in error.error_message
    ps = w.sr.replication_fabrics.get("rg-mig", "rsv1", w.reg["fabric"]).properties.custom_details.process_servers[0]
    assert ps.health == "Critical"
    assert ps.health_errors[0].error_code == "ServiceEndpointNotReachableOverPrivateLink"
    # DNS fixed: replication resumes from where it was.
    admin.call("PUT", "/dns/faults", {})
    w.get("srv-web-01")
    admin.advance(15)
    item = w.get("srv-web-01")
    assert 45 <= item.properties.provider_specific_details.initial_replication_progress_percentage <= 55
    assert item.properties.replication_health == "Normal"


# -- faults ------------------------------------------------------------------------------------------
def faulty(make_sandbox: Callable[..., Sandbox], fault: str) -> World:
    world_def = scenario()
    world_def["appliances"][0]["machines"][0]["fault"] = fault
    box = make_sandbox(world_def)
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR, BLOB_DATA_CONTRIBUTOR)
    admin = AdminClient(box.info)
    return World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))


def test_machine_fault_enable_fails(make_sandbox: Callable[..., Sandbox]) -> None:
    w = faulty(make_sandbox, "enable_fails")
    service = assert_failed(w, "srv-web-01", "InternalError", "'Enable replication' failed on the machine 'srv-web-01'")
    assert service.recommended_action.startswith("Retry the operation")


def test_machine_fault_replication_stalls_until_repaired(make_sandbox: Callable[..., Sandbox]) -> None:
    w = faulty(make_sandbox, "replication_stalls")
    w.enable("srv-web-01")
    w.admin.advance(60)
    item = w.get("srv-web-01")
    details = item.properties.provider_specific_details
    assert item.properties.protection_state == "InitialReplicationInProgress"
    assert details.initial_replication_progress_percentage == 37
    assert details.initial_replication_progress_health == "NoProgress"
    assert details.resync_required == "true"
    assert item.properties.replication_health == "Critical"
    assert item.properties.health_errors[0].error_code == "ReplicationStalled"
    assert item.properties.allowed_operations == ["DisableProtection", "RepairReplication"]
    item = w.sr.replication_protected_items.begin_repair_replication(*w.item_args("srv-web-01")).result()
    assert item.properties.replication_health == "Normal"
    assert item.properties.provider_specific_details.resync_required == "false"
    w.admin.advance(60)
    assert w.get("srv-web-01").properties.protection_state == "Protected"


def test_machine_fault_test_failover_fails_then_cleanup(make_sandbox: Callable[..., Sandbox]) -> None:
    w = faulty(make_sandbox, "test_failover_fails")
    w.enable("srv-web-01")
    w.admin.advance(31)
    args = w.item_args("srv-web-01")
    with pytest.raises(HttpResponseError) as failed:
        w.sr.replication_protected_items.begin_test_failover(*args, {"properties": {"networkId": VNET_TEST}}).result()
    assert arm_error(failed.value)[0] == "InternalError"
    item = w.get("srv-web-01")
    assert item.properties.test_failover_state == "Failed"
    assert item.properties.allowed_operations == ["TestFailoverCleanup"]
    item = w.sr.replication_protected_items.begin_test_failover_cleanup(*args, {"properties": {}}).result()
    assert item.properties.allowed_operations == ["TestFailover", "UnplannedFailover", "DisableProtection"]


def test_machine_fault_failover_fails_and_can_be_retried(make_sandbox: Callable[..., Sandbox]) -> None:
    w = faulty(make_sandbox, "failover_fails")
    w.enable("srv-web-01")
    w.admin.advance(31)
    args = w.item_args("srv-web-01")
    body = {"properties": {"providerSpecificDetails": {"instanceType": "InMageRcm", "performShutdown": "true"}}}
    with pytest.raises(HttpResponseError) as failed:
        w.sr.replication_protected_items.begin_unplanned_failover(*args, body).result()
    assert arm_error(failed.value)[0] == "InternalError"
    item = w.get("srv-web-01")
    assert (item.properties.protection_state, item.properties.active_location) == ("Protected", "Primary")
    assert item.properties.health_errors[0].error_code == "InternalError"
    vm = f"{RG}/rg-target/providers/Microsoft.Compute/virtualMachines/srv-web-01"
    assert w.get_vm(vm)[0] == 404
    w.admin.call("PATCH", "/siterecovery/machines/app-01/srv-web-01", {"fault": None})
    item = w.sr.replication_protected_items.begin_unplanned_failover(*args, body).result()
    assert item.properties.protection_state == "UnplannedFailoverCompleted"
    assert item.properties.health_errors == []
    assert w.get_vm(vm)[0] == 200


ITEM_TYPE = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems"
)


def test_fault_api_fails_the_job_of_a_write(world: World) -> None:
    world.admin.call(
        "PUT",
        "/faults",
        [
            {
                "method": "POST",
                "resource_type": ITEM_TYPE + "/testFailover",
                "lro_failure": True,
                "code": "TestFailoverInternalError",
                "message": "Injected.",
                "sequence": [True],
            }
        ],
    )
    world.enable("srv-web-01")
    world.admin.advance(31)
    args = world.item_args("srv-web-01")
    with pytest.raises(HttpResponseError) as failed:
        world.sr.replication_protected_items.begin_test_failover(
            *args, {"properties": {"networkId": VNET_TEST}}
        ).result()
    assert arm_error(failed.value) == ("TestFailoverInternalError", "Injected.")
    [job] = [
        j for j in world.sr.replication_jobs.list("rg-mig", "rsv1") if j.properties.scenario_name == "TestFailover"
    ]
    assert job.properties.errors[0].service_error_details.code == "TestFailoverInternalError"
    # The sequence is spent: the next test failover succeeds (after the failed one's cleanup).
    world.sr.replication_protected_items.begin_test_failover_cleanup(*args, {"properties": {}}).result()
    item = world.sr.replication_protected_items.begin_test_failover(*args, {"properties": {"networkId": VNET_TEST}})
    assert item.result().properties.test_failover_state == "WaitingForCompletion"


def test_fault_api_http_errors_and_latency_on_writes(world: World) -> None:
    world.admin.call(
        "PUT",
        "/faults",
        [{"method": "PUT", "resource_type": ITEM_TYPE, "status": 409, "code": "Conflict", "sequence": [True]}],
    )
    with pytest.raises(HttpResponseError) as refused:
        world.enable("srv-web-01")
    assert (refused.value.status_code, refused.value.error.code) == (409, "Conflict")
    world.admin.call("PUT", "/latencies", [{"method": "PUT", "resource_type": ITEM_TYPE, "seconds": 40}])
    poller = world.sr.replication_protected_items.begin_create(
        *world.item_args("srv-web-01"), world.enable_input("srv-web-01"), polling=False
    )
    headers = poller.polling_method()._initial_response.http_response.headers  # type: ignore[attr-defined]
    assert int(headers["Retry-After"]) >= 30
    assert world.get("srv-web-01").properties.protection_state == "EnablingProtection"
    world.admin.advance(41)
    assert world.get("srv-web-01").properties.protection_state == "InitialReplicationInProgress"


# -- update, jobs list -----------------------------------------------------------------------------
def test_update_changes_the_target_until_failover(world: World) -> None:
    world.enable("srv-web-01")
    args = world.item_args("srv-web-01")
    item = world.sr.replication_protected_items.begin_update(
        *args,
        {
            "properties": {
                "providerSpecificDetails": {
                    "instanceType": "InMageRcm",
                    "targetVmSize": "Standard_D4s_v5",
                    "vmNics": [{"nicId": "x", "targetSubnetName": "snet-app", "testSubnetName": "snet-app"}],
                }
            }
        },
    ).result()
    assert item.properties.provider_specific_details.target_vm_size == "Standard_D4s_v5"
    world.admin.advance(31)
    world.sr.replication_protected_items.begin_unplanned_failover(*args, {"properties": {}}).result()
    _, vm = world.get_vm(f"{RG}/rg-target/providers/Microsoft.Compute/virtualMachines/srv-web-01")
    assert vm["properties"]["hardwareProfile"]["vmSize"] == "Standard_D4s_v5"
    with pytest.raises(HttpResponseError) as refused:
        world.sr.replication_protected_items.begin_update(*args, {"properties": {"recoveryAzureVMSize": "A1"}})
    assert refused.value.error.code == "OperationNotAllowed"
    assert "'UnplannedFailoverCompleted'" in refused.value.error.message


def test_jobs_list_filters_on_time_and_status(world: World) -> None:
    world.enable("srv-web-01")
    world.admin.advance(3600)
    world.enable("srv-lnx-01")
    all_jobs = list(world.sr.replication_jobs.list("rg-mig", "rsv1"))
    assert len(all_jobs) == 2
    second = max(all_jobs, key=lambda j: j.properties.start_time)
    since = (second.properties.start_time.replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = list(world.sr.replication_jobs.list("rg-mig", "rsv1", filter=f"startTime ge '{since}'"))
    assert [j.name for j in recent] == [second.name]
    earlier = list(world.sr.replication_jobs.list("rg-mig", "rsv1", filter=f"endTime le '{since}'"))
    assert [j.name for j in earlier] == [j.name for j in all_jobs if j.name != second.name]
    assert list(world.sr.replication_jobs.list("rg-mig", "rsv1", filter="jobStatus eq 'Failed'")) == []
    with pytest.raises(HttpResponseError) as refused:
        list(world.sr.replication_jobs.list("rg-mig", "rsv1", filter="color eq 'blue'"))
    assert refused.value.error.code == "InvalidFilter"


def test_poll_cycle_lists_items_at_the_clients_api_version(world: World) -> None:
    # The lifecycle's poll cycle lists protected items as raw requests beside the client's own
    # operations (jobs list, item get): both must send the one version the factory pins, or an SDK
    # upgrade would split them across API versions. The sandbox records what each request sent.
    world.enable("srv-web-01")
    world.admin.call("DELETE", "/calls")
    containers = [(world.reg["fabric"], world.reg["container"])]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    seen = observe(Target.sandbox(world.box.info), Vault("rg-mig", "rsv1"), containers, since, lambda items: [])
    assert [i["name"] for i in seen.items] == ["srv-web-01"]
    world.get("srv-web-01")
    sent = world.admin.calls()["api_versions"]
    assert {(r["resource_type"].rsplit("/", 1)[1], r["api_version"]) for r in sent} == {
        ("replicationProtectedItems", SITE_RECOVERY_API_VERSION),
        ("replicationJobs", SITE_RECOVERY_API_VERSION),
    }
    assert sum(r["count"] for r in sent if r["resource_type"].endswith("/replicationProtectedItems")) == 2


# -- jobs cancel and restart, protectable items -------------------------------------------------------
def test_cancel_a_running_job_then_restart_it(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(scenario(test_failover_seconds=600))
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    grant(azure, vault.identity.principal_id, CACHE, CONTRIBUTOR, BLOB_DATA_CONTRIBUTOR)
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    w.enable("srv-web-01")
    admin.advance(31)
    args = w.item_args("srv-web-01")
    w.sr.replication_protected_items.begin_test_failover(*args, {"properties": {"networkId": VNET_TEST}}, polling=False)
    job_id = w.get("srv-web-01").properties.current_scenario.job_id
    name = job_id.rsplit("/", 1)[1]
    cancelled = w.sr.replication_jobs.begin_cancel("rg-mig", "rsv1", name).result()
    assert (cancelled.properties.state, cancelled.properties.allowed_actions) == ("Cancelled", ["Restart"])
    item = w.get("srv-web-01")
    assert item.properties.test_failover_state == "None"
    assert item.properties.allowed_operations == ["TestFailover", "UnplannedFailover", "DisableProtection"]
    with pytest.raises(HttpResponseError) as refused:
        w.sr.replication_jobs.begin_cancel("rg-mig", "rsv1", name).result()
    assert refused.value.error.code == "JobNotCancellable"
    restarted = w.sr.replication_jobs.begin_restart("rg-mig", "rsv1", name).result()
    assert (restarted.properties.scenario_name, restarted.properties.state) == ("TestFailover", "InProgress")
    assert restarted.name != name
    assert w.get("srv-web-01").properties.test_failover_state == "InProgress"
    admin.advance(601)
    assert w.get("srv-web-01").properties.test_failover_state == "WaitingForCompletion"
    with pytest.raises(HttpResponseError) as refused:
        w.sr.replication_jobs.begin_restart("rg-mig", "rsv1", restarted.name).result()
    assert refused.value.error.code == "JobNotRestartable"


def test_restart_a_failed_enable_job(world: World) -> None:
    failed_job(world, "srv-noagent")
    world.admin.call("PATCH", "/siterecovery/machines/app-01/srv-noagent", {"mobility_agent": True})
    [job] = [j for j in world.sr.replication_jobs.list("rg-mig", "rsv1", filter="jobStatus eq 'Failed'")]
    again = world.sr.replication_jobs.begin_restart("rg-mig", "rsv1", job.name).result()
    assert again.properties.scenario_name == "EnableDr"
    world.admin.advance(1)
    assert world.get("srv-noagent").properties.protection_state == "InitialReplicationInProgress"


def test_protectable_items_are_the_discovered_machines(world: World) -> None:
    world.enable("srv-web-01")
    listed = list(
        world.sr.replication_protectable_items.list_by_replication_protection_containers(*world.item_args("x")[:4])
    )
    by_name = {p.properties.friendly_name: p for p in listed}
    assert sorted(by_name) == ["srv-lnx-01", "srv-noagent", "srv-web-01"]
    assert by_name["srv-web-01"].properties.protection_status == "Protected"
    assert by_name["srv-web-01"].properties.replication_protected_item_id == world.get("srv-web-01").id
    assert by_name["srv-lnx-01"].properties.protection_status == "Unprotected"
    assert by_name["srv-noagent"].properties.protection_readiness_errors
    one = world.sr.replication_protectable_items.get(*world.item_args("x")[:4], by_name["srv-lnx-01"].name)
    assert one.id == by_name["srv-lnx-01"].id


def test_discovered_machines_and_protectable_items_page_at_100(make_sandbox: Callable[..., Sandbox]) -> None:
    world_def = scenario()
    world_def["appliances"][0]["machines"] = [{"name": f"srv-{i:03d}"} for i in range(150)]
    box = make_sandbox(world_def)
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure)
    admin = AdminClient(box.info)
    w = World(box, azure, admin, vault.id, admin.register_appliance(vault.id, "app-01"))
    site = w.sr.replication_fabrics.get("rg-mig", "rsv1", w.reg["fabric"]).properties.custom_details.vmware_site_id
    first = w.sr._client.send_request(HttpRequest("GET", f"{box.info.arm_url}{site}/machines?api-version=2023-06-06"))
    page = first.json()
    assert len(page["value"]) == 100
    assert page["nextLink"].startswith(box.info.arm_url + site + "/machines?")
    second = w.sr._client.send_request(HttpRequest("GET", page["nextLink"])).json()
    assert len(second["value"]) == 50 and "nextLink" not in second
    names = {m["properties"]["displayName"] for m in page["value"] + second["value"]}
    assert len(names) == 150
    pages = w.sr.replication_protectable_items.list_by_replication_protection_containers(
        *w.item_args("x")[:4]
    ).by_page()
    assert [len(list(p)) for p in pages] == [100, 50]


def test_machines_from_an_inventory_match_the_default_scenario() -> None:
    from pathlib import Path

    from plmigrate.sandbox import Scenario
    from plmigrate.sandbox.scenario import machines_from_inventory

    inventory = Path(__file__).resolve().parents[2] / "deployments" / "waves" / "finance.csv"
    made = machines_from_inventory(inventory, "appliance-fin-01")
    [appliance] = Scenario.load("default").appliances
    assert [(m.name, m.source_type) for m in made] == [(m.name, m.source_type) for m in appliance.machines]
    assert machines_from_inventory(inventory, "appliance-other") == []


def test_register_appliance_command(make_sandbox: Callable[..., Sandbox], tmp_path: Any, capsys: Any) -> None:
    from plmigrate.cli import main

    box = make_sandbox(scenario())
    info = tmp_path / "info.json"
    box.info.write(info)
    azure = clients(Target.sandbox(box.info))
    vault = make_vault(azure, public="Disabled")
    vault_endpoint(azure, vault.id)
    args = ["sandbox", "register-appliance", "--info", str(info), "--vault", vault.id]
    assert main([*args, "app-01"]) == 1  # the appliance's DNS does not resolve the vault's names yet
    assert "ServiceEndpointNotReachableOverPrivateLink" in capsys.readouterr().err
    assert main([*args, "app-99"]) == 2
    assert "no appliance 'app-99'" in capsys.readouterr().err
    private_dns_for(azure, "pe-rsv1")
    assert main([*args, "app-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("registered app-01: fabric app-01") and "(Normal)" in out


def test_time_scale_and_advance(world: World) -> None:
    world.admin.call("PUT", "/siterecovery/time", {"scale": 1000})  # enable: 0.05 s -> 50 s
    world.sr.replication_protected_items.begin_create(
        *world.item_args("srv-web-01"), world.enable_input("srv-web-01"), polling=False
    )
    item_id = f"{world.reg['container_id']}/replicationProtectedItems/srv-web-01"
    state = world.admin.call("GET", f"/siterecovery/items{item_id}")
    assert (state["state"], state["allowed_operations"]) == ("EnablingProtection", [])
    world.admin.advance(51)
    state = world.admin.call("GET", f"/siterecovery/items{item_id}")
    assert state["state"] == "InitialReplicationInProgress"
    assert state["ir_duration"] == 30 * 1000  # scaled when the work started
    with pytest.raises(AdminError) as refused:
        world.admin.call("PUT", "/siterecovery/time", {"scale": 0})
    assert refused.value.code == "InvalidSandboxRequest"


def test_cache_account_behind_its_endpoint_must_resolve_from_on_prem(world: World) -> None:
    azure = world.azure
    azure.storage.storage_accounts.update("rg-mig", "stcache01", {"properties": {"publicNetworkAccess": "Disabled"}})
    endpoint = azure.network.private_endpoints.begin_create_or_update(
        "rg-mig",
        "pe-stcache01",
        {
            "location": "eastus",
            "properties": {
                "subnet": {"id": f"{VNET_HUB}/subnets/snet-pe"},
                "privateLinkServiceConnections": [
                    {"name": "blob", "properties": {"privateLinkServiceId": CACHE, "groupIds": ["blob"]}}
                ],
            },
        },
    ).result()
    ip = endpoint.custom_dns_configs[0].ip_addresses[0]
    # The connection is Approved, but on-prem DNS has no forwarder for blob.core.windows.net.
    service = assert_failed(
        world, "srv-web-01", "StorageAccountNotReachableOverPrivateLink", "'stcache01.blob.core.windows.net'"
    )
    assert f"not to its private endpoint ({ip})" in service.message
    assert "conditional forwarder for blob.core.windows.net" in service.recommended_action
