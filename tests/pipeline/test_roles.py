"""The vault identity's role grants (tasks/roles.py) when someone else granted a role first."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.recoveryservices.models import IdentityData, Sku, Vault
from prefect import flow

from plmigrate.azure import Target, clients
from plmigrate.facts import RoleGrant, VaultFacts
from plmigrate.rules import AccountFacts, role_assignment_name, role_definition_id
from plmigrate.sandbox import Sandbox
from tasks.roles import grant_vault_roles
from tests.pipeline.conftest import default_scenario

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


@flow(name="grant-roles-test")
def grant_after_someone_else(target: Target, account: AccountFacts, vault: VaultFacts) -> tuple[str, list[RoleGrant]]:
    """Someone grants Contributor under a name of their own, then our task runs at once (inside the
    flow run, so the run's start-up cannot outlast the listing's delay on a loaded machine)."""
    theirs = clients(target).authorization.role_assignments.create(
        account.id,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=role_definition_id(target.subscription_id, CONTRIBUTOR),
            principal_id=vault.principal_id,
            principal_type="ServicePrincipal",
        ),
    )
    return theirs.id, grant_vault_roles(target, account, vault, timeout_seconds=30, retry_seconds=0.2)


def test_a_role_granted_under_another_name_is_recorded_by_its_real_id(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    # Assignments show in lists 5 s after they are made (ARM is eventually consistent), so our
    # first look misses the one granted just before us, and our PUT answers 409 RoleAssignmentExists.
    box = make_sandbox(default_scenario(identity={"assignment_visible_after_seconds": 5.0}))
    target = Target.sandbox(box.info)
    azure = clients(target)
    made = azure.recoveryservices.vaults.begin_create_or_update(
        "rg-migrate-finance",
        "rsv-roles",
        Vault(location="eastus", sku=Sku(name="Standard"), identity=IdentityData(type="SystemAssigned")),
    ).result()
    vault = VaultFacts(id=made.id, name=made.name, location=made.location, principal_id=made.identity.principal_id)
    props = azure.storage.storage_accounts.get_properties("rg-storage-finance", "stfinrepl01")
    account = AccountFacts(
        name=props.name, id=props.id, kind=props.kind, sku_name=props.sku.name, location=props.location
    )
    theirs_id, granted = grant_after_someone_else(target, account, vault)
    grants = {g.role_definition_id: g for g in granted}

    assert box.world.calls[("PUT", "Microsoft.Authorization/roleAssignments", 409)] == 1
    contributor = grants.pop(CONTRIBUTOR)
    assert (contributor.assignment_id, contributor.created) == (theirs_id, False)
    [blob] = grants.values()  # the blob data role was ours to grant, under our deterministic name
    assert blob.created and blob.assignment_id.endswith(
        role_assignment_name(account.id, vault.principal_id, blob.role_definition_id)
    )
    for g in (contributor, blob):  # every recorded ID is an assignment that exists
        found = azure.authorization.role_assignments.get_by_id(g.assignment_id)
        assert (found.principal_id, found.role_definition_id.rsplit("/", 1)[-1]) == (
            vault.principal_id,
            g.role_definition_id,
        )
