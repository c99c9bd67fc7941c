"""Microsoft.Authorization in the sandbox, through azure-mgmt-authorization's AuthorizationManagementClient
(api-version 2022-04-01): built-in role definitions, role assignments and the directory's delays."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.recoveryservices.models import IdentityData, Sku, Vault

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
SUB = "00000000-0000-0000-0000-00000000a11e"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/rg-migrate"
SEEDED_USER = "33333333-0000-0000-0000-0000000000aa"


def _start(make_sandbox: Callable[..., Sandbox], **identity: Any) -> tuple[Sandbox, AzureClients]:
    box = make_sandbox(
        {
            "subscription_id": SUB,
            "resource_groups": [{"name": "rg-migrate", "location": "eastus"}],
            "role_assignments": [
                {"scope": RG_SCOPE, "role_definition_id": READER, "principal_id": SEEDED_USER, "principal_type": "User"}
            ],
            "identity": {"principal_not_found_seconds": 1.0, **identity},
        }
    )
    return box, clients(Target.sandbox(box.info))


def _role_id(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _params(
    role: str, principal: str, principal_type: str | None = "ServicePrincipal"
) -> RoleAssignmentCreateParameters:
    return RoleAssignmentCreateParameters(
        role_definition_id=_role_id(role), principal_id=principal, principal_type=principal_type
    )


def _fresh_vault(azure: AzureClients, name: str = "rsv-auth") -> tuple[str, str]:
    """A vault with a system-assigned identity made just now: (vault ID, principal ID)."""
    vault = azure.recoveryservices.vaults.begin_create_or_update(
        "rg-migrate",
        name,
        Vault(location="eastus", sku=Sku(name="Standard"), identity=IdentityData(type="SystemAssigned")),
    ).result()
    return vault.id, vault.identity.principal_id


def _wait_out_principal_window(box: Sandbox, principal: str) -> None:
    created = box.world.meta_of("/sandbox/principals/" + principal)["created_at"]
    remaining = created + box.scenario.identity.principal_not_found_seconds - time.time()
    if remaining > 0:
        time.sleep(remaining + 0.05)


def test_role_definitions_by_name_and_by_id(make_sandbox: Callable[..., Sandbox]) -> None:
    _, azure = _start(make_sandbox)
    defs = azure.authorization.role_definitions
    [found] = list(defs.list(f"/subscriptions/{SUB}", filter="roleName eq 'Storage Blob Data Contributor'"))
    assert found.id == _role_id(BLOB_CONTRIBUTOR) and found.name == BLOB_CONTRIBUTOR
    assert found.type == "Microsoft.Authorization/roleDefinitions"
    assert found.role_type == "BuiltInRole" and found.assignable_scopes == ["/"]
    assert "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write" in found.permissions[0].data_actions
    names = {d.role_name: d.name for d in defs.list(RG_SCOPE)}
    for role, guid in {
        "Contributor": CONTRIBUTOR,
        "Storage Blob Data Owner": BLOB_OWNER,
        "Owner": OWNER,
        "Reader": READER,
        "Storage Blob Data Contributor": BLOB_CONTRIBUTOR,
    }.items():
        assert names[role] == guid
    assert list(defs.list(RG_SCOPE, filter="roleName eq 'No Such Role'")) == []
    assert defs.get(f"/subscriptions/{SUB}", CONTRIBUTOR).role_name == "Contributor"
    assert defs.get_by_id(_role_id(BLOB_OWNER)).role_name == "Storage Blob Data Owner"
    assert defs.get_by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}").role_name == "Owner"
    with pytest.raises(HttpResponseError) as info:
        defs.get(f"/subscriptions/{SUB}", str(uuid.uuid4()))
    assert info.value.status_code == 404 and info.value.error.code == "RoleDefinitionDoesNotExist"
    with pytest.raises(HttpResponseError) as info:
        list(defs.list(RG_SCOPE, filter="startswith(roleName, 'C')"))
    assert info.value.status_code == 400 and info.value.error.code == "UnsupportedQuery"


def test_assignment_create_get_list_delete(make_sandbox: Callable[..., Sandbox]) -> None:
    box, azure = _start(make_sandbox)
    vault_id, principal = _fresh_vault(azure)
    ra = azure.authorization.role_assignments
    name = str(uuid.uuid4())
    created = ra.create(vault_id, name, _params(CONTRIBUTOR, principal))
    assert created.id == f"{vault_id}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert created.name == name and created.type == "Microsoft.Authorization/roleAssignments"
    assert created.scope == vault_id and created.principal_id == principal
    assert created.principal_type == "ServicePrincipal" and created.role_definition_id == _role_id(CONTRIBUTOR)
    assert created.created_by == box.scenario.principal_id and created.created_on is not None
    assert ("PUT", "Microsoft.Authorization/roleAssignments", 201) in box.world.calls
    # The same name with the same content again: an update (200), not a conflict.
    assert ra.create(vault_id, name, _params(CONTRIBUTOR, principal)).id == created.id
    assert ("PUT", "Microsoft.Authorization/roleAssignments", 200) in box.world.calls
    assert ra.get(vault_id, name).principal_id == principal
    assert ra.get_by_id(created.id).name == name

    # list_for_scope: at, above and below the scope; atScope() drops below; principalId narrows.
    at_rg = {a.principal_id for a in ra.list_for_scope(RG_SCOPE)}
    assert at_rg == {principal, SEEDED_USER}
    assert {a.principal_id for a in ra.list_for_scope(RG_SCOPE, filter="atScope()")} == {SEEDED_USER}
    mine = list(ra.list_for_scope(vault_id, filter=f"principalId eq '{principal}'"))
    assert [a.name for a in mine] == [name]
    assert {a.principal_id for a in ra.list_for_scope(vault_id)} == {principal, SEEDED_USER}
    assert [a.principal_id for a in ra.list_for_resource_group("rg-migrate", filter="atScope()")] == [SEEDED_USER]
    assert list(ra.list_for_scope(f"/subscriptions/{SUB}", filter=f"principalId eq '{uuid.uuid4()}'")) == []

    deleted = ra.delete(vault_id, name)
    assert deleted is not None and deleted.name == name
    assert ra.delete(vault_id, name) is None  # 204: already gone
    assert ("DELETE", "Microsoft.Authorization/roleAssignments", 204) in box.world.calls
    with pytest.raises(ResourceNotFoundError) as info:
        ra.get(vault_id, name)
    assert info.value.error.code == "RoleAssignmentNotFound"
    assert list(ra.list_for_scope(vault_id, filter=f"principalId eq '{principal}'")) == []


def test_same_principal_role_and_scope_twice_is_409(make_sandbox: Callable[..., Sandbox]) -> None:
    _, azure = _start(make_sandbox)
    ra = azure.authorization.role_assignments
    ra.create(RG_SCOPE, str(uuid.uuid4()), _params(BLOB_OWNER, SEEDED_USER, "User"))
    with pytest.raises(ResourceExistsError) as info:
        ra.create(RG_SCOPE, str(uuid.uuid4()), _params(BLOB_OWNER, SEEDED_USER, "User"))
    assert info.value.status_code == 409
    assert info.value.error.code == "RoleAssignmentExists"
    assert info.value.error.message == "The role assignment already exists."
    # A different role for the same principal at the same scope is a different assignment.
    ra.create(RG_SCOPE, str(uuid.uuid4()), _params(BLOB_CONTRIBUTOR, SEEDED_USER, "User"))
    # So is the seeded Reader assignment: the scenario's own assignment counts as existing.
    with pytest.raises(ResourceExistsError):
        ra.create(RG_SCOPE, str(uuid.uuid4()), _params(READER, SEEDED_USER, "User"))


def test_principal_not_found_for_a_fresh_identity_without_principal_type(make_sandbox: Callable[..., Sandbox]) -> None:
    box, azure = _start(make_sandbox)
    vault_id, principal = _fresh_vault(azure)
    ra = azure.authorization.role_assignments
    with pytest.raises(HttpResponseError) as info:
        ra.create(vault_id, str(uuid.uuid4()), _params(CONTRIBUTOR, principal, principal_type=None))
    assert info.value.status_code == 400 and info.value.error.code == "PrincipalNotFound"
    assert info.value.error.message.startswith(
        f"Principal {principal} does not exist in the directory {box.info.tenant_id}. Check that you have the correct"
    )
    assert "set the role assignment principalType property" in info.value.error.message
    # With principalType ARM skips the directory look-up: it works inside the window.
    created = ra.create(vault_id, str(uuid.uuid4()), _params(CONTRIBUTOR, principal))
    assert created.principal_type == "ServicePrincipal"
    # After the window the directory knows the principal, and ARM records its type itself.
    _wait_out_principal_window(box, principal)
    late = ra.create(vault_id, str(uuid.uuid4()), _params(BLOB_CONTRIBUTOR, principal, principal_type=None))
    assert late.principal_type == "ServicePrincipal"


def test_unknown_principal_needs_a_principal_type(make_sandbox: Callable[..., Sandbox]) -> None:
    _, azure = _start(make_sandbox)
    ra = azure.authorization.role_assignments
    stranger = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as info:
        ra.create(RG_SCOPE, str(uuid.uuid4()), _params(CONTRIBUTOR, stranger, principal_type=None))
    assert info.value.error.code == "PrincipalNotFound"
    assert ra.create(RG_SCOPE, str(uuid.uuid4()), _params(CONTRIBUTOR, stranger, "Group")).principal_type == "Group"
    # Principals the scenario knows need no type.
    assert ra.create(RG_SCOPE, str(uuid.uuid4()), _params(OWNER, SEEDED_USER, None)).principal_type == "User"


def test_principal_not_found_even_with_type_switch(make_sandbox: Callable[..., Sandbox]) -> None:
    box, azure = _start(make_sandbox, principal_not_found_even_with_type=True)
    vault_id, principal = _fresh_vault(azure)
    ra = azure.authorization.role_assignments
    with pytest.raises(HttpResponseError) as info:
        ra.create(vault_id, str(uuid.uuid4()), _params(CONTRIBUTOR, principal))
    assert info.value.error.code == "PrincipalNotFound"
    _wait_out_principal_window(box, principal)
    assert ra.create(vault_id, str(uuid.uuid4()), _params(CONTRIBUTOR, principal)).principal_id == principal


def test_new_assignments_are_listed_only_after_the_visibility_delay(make_sandbox: Callable[..., Sandbox]) -> None:
    # 3 s: the list right after the create must come within the delay on a loaded machine too.
    _, azure = _start(make_sandbox, assignment_visible_after_seconds=3.0)
    ra = azure.authorization.role_assignments
    name = str(uuid.uuid4())
    ra.create(RG_SCOPE, name, _params(CONTRIBUTOR, SEEDED_USER, "User"))
    made = time.time()  # after the answer: the sandbox stamped the assignment before this
    query = f"principalId eq '{SEEDED_USER}'"
    assert [a.role_definition_id for a in ra.list_for_scope(RG_SCOPE, filter=query)] == [_role_id(READER)]
    assert ra.get(RG_SCOPE, name).name == name  # a read by name sees it at once
    time.sleep(max(0.0, made + 3.05 - time.time()))
    assert {a.role_definition_id for a in ra.list_for_scope(RG_SCOPE, filter=query)} == {
        _role_id(READER),
        _role_id(CONTRIBUTOR),
    }


def test_invalid_assignments(make_sandbox: Callable[..., Sandbox]) -> None:
    _, azure = _start(make_sandbox)
    ra = azure.authorization.role_assignments
    missing_role = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as info:
        ra.create(RG_SCOPE, str(uuid.uuid4()), _params(missing_role, SEEDED_USER, "User"))
    assert info.value.status_code == 400 and info.value.error.code == "RoleDefinitionDoesNotExist"
    assert info.value.error.message == f"The specified role definition with ID '{missing_role}' does not exist."
    gone = f"{RG_SCOPE}/providers/Microsoft.Storage/storageAccounts/stnothere"
    with pytest.raises(ResourceNotFoundError) as info:
        ra.create(gone, str(uuid.uuid4()), _params(CONTRIBUTOR, SEEDED_USER, "User"))
    assert info.value.error.code == "ResourceNotFound"
    with pytest.raises(HttpResponseError) as info:
        ra.create(RG_SCOPE, "not-a-guid", _params(CONTRIBUTOR, SEEDED_USER, "User"))
    assert info.value.error.code == "InvalidRoleAssignmentId"
    name = str(uuid.uuid4())
    ra.create(RG_SCOPE, name, _params(CONTRIBUTOR, SEEDED_USER, "User"))
    with pytest.raises(HttpResponseError) as info:
        ra.create(RG_SCOPE, name, _params(OWNER, SEEDED_USER, "User"))
    assert info.value.error.code == "RoleAssignmentUpdateNotPermitted"
    with pytest.raises(HttpResponseError) as info:
        list(ra.list_for_scope(RG_SCOPE, filter="roleDefinitionId eq 'x'"))
    assert info.value.error.code == "UnsupportedQuery"
