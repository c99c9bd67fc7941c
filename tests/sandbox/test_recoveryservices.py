"""Microsoft.RecoveryServices in the sandbox, through azure-mgmt-recoveryservices' RecoveryServicesClient."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.recoveryservices.models import IdentityData, PatchVault, Sku, Vault, VaultProperties

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox, connections
from plmigrate.sandbox.providers.recoveryservices import SITE_RECOVERY_MEMBERS

RG = "rg-migrate"


@pytest.fixture
def box(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(
        {"resource_groups": [{"name": RG, "location": "eastus"}, {"name": "rg-other", "location": "eastus"}]}
    )


@pytest.fixture
def rs(box: Sandbox) -> AzureClients:
    return clients(Target.sandbox(box.info))


def _vault(identity: bool = True) -> Vault:
    return Vault(
        location="East US",
        sku=Sku(name="Standard"),
        identity=IdentityData(type="SystemAssigned") if identity else None,
        properties=VaultProperties(public_network_access="Enabled"),
    )


def _vault_calls(box: Sandbox) -> list[tuple[str, int]]:
    return [
        (r["method"], r["status"])
        for r in box.world.call_report()["calls"]
        if r["resource_type"] in {"Microsoft.RecoveryServices/vaults", "Sandbox.Operations/operations"}
    ]


def test_create_mints_an_identity_once_and_keeps_it(box: Sandbox, rs: AzureClients) -> None:
    created = rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-fin", _vault()).result()
    assert created.id == (
        f"/subscriptions/{box.info.subscription_id}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/rsv-fin"
    )
    assert created.location == "eastus"
    assert created.sku.name == "RS0" and created.sku.tier == "Standard"
    assert created.properties.provisioning_state == "Succeeded"
    assert created.properties.public_network_access == "Enabled"
    assert created.properties.private_endpoint_state_for_site_recovery == "None"
    assert created.identity.type == "SystemAssigned"
    principal = created.identity.principal_id
    assert re.fullmatch(r"[0-9a-f-]{36}", principal)
    assert created.identity.tenant_id == box.info.tenant_id
    facts = box.world.meta_of("/sandbox/principals/" + principal)
    assert facts["kind"] == "ServicePrincipal" and facts["display_name"] == "rsv-fin"
    assert facts["created_at"] <= box.world.now()
    numeric = box.world.meta_of(created.id)["numeric_id"]
    assert re.fullmatch(r"\d{16,19}", numeric)
    # The create went through the LRO: 201 + Azure-AsyncOperation, polled, then the final GET.
    assert ("PUT", 201) in _vault_calls(box)
    assert ("GET", 200) in _vault_calls(box)

    again = rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-fin", _vault()).result()
    assert again.identity.principal_id == principal
    assert box.world.meta_of(created.id)["numeric_id"] == numeric
    assert ("PUT", 200) in _vault_calls(box)
    patched = rs.recoveryservices.vaults.begin_update(RG, "rsv-fin", PatchVault(tags={"bu": "fin"})).result()
    assert patched.identity.principal_id == principal and patched.tags == {"bu": "fin"}


def test_identity_enabled_on_an_existing_vault_through_patch(box: Sandbox, rs: AzureClients) -> None:
    plain = rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-plain", _vault(identity=False)).result()
    assert plain.identity is None
    patched = rs.recoveryservices.vaults.begin_update(
        RG, "rsv-plain", PatchVault(identity=IdentityData(type="SystemAssigned"))
    ).result()
    assert patched.identity.type == "SystemAssigned"
    assert box.world.meta_of("/sandbox/principals/" + patched.identity.principal_id)["display_name"] == "rsv-plain"
    # PATCH answered 202 with both polling headers, as PATCHVault.json shows.
    assert ("PATCH", 202) in _vault_calls(box)
    fetched = rs.recoveryservices.vaults.get(RG, "rsv-plain")
    assert fetched.identity.principal_id == patched.identity.principal_id


def test_get_list_and_delete(box: Sandbox, rs: AzureClients) -> None:
    rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-a", _vault()).result()
    rs.recoveryservices.vaults.begin_create_or_update("rg-other", "rsv-b", _vault()).result()
    assert [v.name for v in rs.recoveryservices.vaults.list_by_resource_group(RG)] == ["rsv-a"]
    assert sorted(v.name for v in rs.recoveryservices.vaults.list_by_subscription_id()) == ["rsv-a", "rsv-b"]
    assert rs.recoveryservices.vaults.get(RG, "RSV-A").name == "rsv-a"

    rs.recoveryservices.vaults.begin_delete(RG, "rsv-a").result()
    with pytest.raises(ResourceNotFoundError) as info:
        rs.recoveryservices.vaults.get(RG, "rsv-a")
    assert info.value.error.code == "ResourceNotFound"
    assert "Microsoft.RecoveryServices/vaults/rsv-a" in info.value.error.message
    # Deleting what is gone succeeds (204).
    rs.recoveryservices.vaults.begin_delete(RG, "rsv-a").result()
    assert ("DELETE", 204) in _vault_calls(box)


def test_negative_paths(rs: AzureClients) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        rs.recoveryservices.vaults.begin_create_or_update("rg-missing", "rsv", _vault()).result()
    assert info.value.error.code == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        list(rs.recoveryservices.vaults.list_by_resource_group("rg-missing"))
    assert info.value.error.code == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        rs.recoveryservices.vaults.begin_update(RG, "rsv-none", PatchVault(tags={"a": "b"})).result()
    assert info.value.error.code == "ResourceNotFound"
    rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-east", _vault()).result()
    moved = _vault()
    moved.location = "westus"
    with pytest.raises(HttpResponseError) as info:
        rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-east", moved).result()
    assert info.value.status_code == 400 and info.value.error.code == "InvalidResourceLocation"
    assert "already exists in location 'eastus'" in info.value.error.message


def test_vault_shows_its_private_endpoint_connections(box: Sandbox, rs: AzureClients) -> None:
    vault = rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-pe", _vault()).result()
    numeric = box.world.meta_of(vault.id)["numeric_id"]
    group_id = f"/subscriptions/{box.info.subscription_id}/resourceGroups/{RG}"
    endpoint_id = f"{group_id}/providers/Microsoft.Network/privateEndpoints/pe-asr"
    name = f"pe-asr.{numeric}.siterecovery.7b0d3fa1-0000-4000-8000-000000000001"
    connections.attach(
        box.world,
        vault.id,
        connection_name=name,
        endpoint_id=endpoint_id,
        group_ids=["AzureSiteRecovery"],
        status="Approved",
        description="Auto-Approved",
        manual=False,
    )
    seen = rs.recoveryservices.vaults.get(RG, "rsv-pe")
    assert seen.properties.private_endpoint_state_for_site_recovery == "Enabled"
    assert seen.properties.private_endpoint_state_for_backup == "None"
    [conn] = seen.properties.private_endpoint_connections
    assert conn.name == name and conn.name.split(".")[1] == numeric
    assert conn.id == f"{vault.id}/privateEndpointConnections/{name}"
    assert conn.type == "Microsoft.RecoveryServices/vaults/privateEndpointConnections"
    assert conn.location == "eastus"
    assert conn.properties.provisioning_state == "Succeeded"
    assert conn.properties.private_endpoint.id == endpoint_id
    assert conn.properties.group_ids == ["AzureSiteRecovery"]
    state = conn.properties.private_link_service_connection_state
    assert (state.status, state.description, state.actions_required) == ("Approved", "Auto-Approved", "None")
    # The vault follows the connection live: a state change shows on the next GET and in lists.
    connections.set_state(box.world, vault.id, name, "Rejected", "no")
    listed = next(iter(rs.recoveryservices.vaults.list_by_resource_group(RG)))
    assert listed.properties.private_endpoint_connections[
        0
    ].properties.private_link_service_connection_state.status == ("Rejected")
    connections.detach(box.world, vault.id, endpoint_id)
    gone = rs.recoveryservices.vaults.get(RG, "rsv-pe")
    assert gone.properties.private_endpoint_state_for_site_recovery == "None"
    assert not gone.properties.private_endpoint_connections


def test_private_link_resources(box: Sandbox, rs: AzureClients) -> None:
    rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-pl", _vault()).result()
    listed = {r.properties.group_id: r for r in rs.recoveryservices.private_link_resources.list(RG, "rsv-pl")}
    assert set(listed) == {"AzureBackup", "AzureSiteRecovery"}
    asr = listed["AzureSiteRecovery"]
    assert asr.properties.required_members == SITE_RECOVERY_MEMBERS
    assert set(asr.properties.required_members) == {
        "siteRecovery-rcm1",
        "siteRecovery-prot2",
        "siteRecovery-prot2b",
        "siteRecovery-tel1",
        "siteRecovery-srs1",
        "siteRecovery-id1",
    }
    assert asr.properties.required_zone_names == ["privatelink.siterecovery.windowsazure.com"]
    assert "privatelink.eus.backup.windowsazure.com" in listed["AzureBackup"].properties.required_zone_names
    got = rs.recoveryservices.private_link_resources.get(RG, "rsv-pl", asr.name)
    assert got.id == asr.id and got.properties.group_id == "AzureSiteRecovery"
    with pytest.raises(ResourceNotFoundError) as info:
        rs.recoveryservices.private_link_resources.get(RG, "rsv-pl", "nothing")
    assert info.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError):
        list(rs.recoveryservices.private_link_resources.list(RG, "rsv-missing"))


def test_lro_failure_marks_the_vault_failed(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(
        {
            "resource_groups": [{"name": RG, "location": "eastus"}],
            "faults": [
                {
                    "method": "PUT",
                    "resource_type": "Microsoft.RecoveryServices/vaults",
                    "lro_failure": True,
                    "code": "InternalError",
                    "message": "vault creation failed",
                    "sequence": [True],
                }
            ],
        }
    )
    rs = clients(Target.sandbox(box.info))
    with pytest.raises(HttpResponseError, match="vault creation failed"):
        rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-f", _vault()).result()
    assert rs.recoveryservices.vaults.get(RG, "rsv-f").properties.provisioning_state == "Failed"
    healed = rs.recoveryservices.vaults.begin_create_or_update(RG, "rsv-f", _vault()).result()
    assert healed.properties.provisioning_state == "Succeeded"
