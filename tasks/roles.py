"""Step 3a: the vault's identity gets exactly the roles Azure Migrate needs on a storage account
(Contributor plus a blob data role by SKU), scoped to the account, and nothing else."""

from __future__ import annotations

import time

from azure.core.exceptions import HttpResponseError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, arm_error, clients, rest
from plmigrate.errors import StepFailed
from plmigrate.facts import RoleGrant, VaultFacts
from plmigrate.rules import ROLE_NAMES, AccountFacts, required_roles, role_assignment_name, role_definition_id
from tasks.retrying import ARM_RETRIES


def _assigned_roles(target: Target, scope: str, principal_id: str) -> dict[str, str]:
    """Role definition GUID -> assignment ID for the principal's assignments at exactly `scope`."""
    az = clients(target)
    found: dict[str, str] = {}
    for assignment in az.authorization.role_assignments.list_for_scope(
        scope, filter=f"principalId eq '{principal_id}'"
    ):
        props = rest(assignment).get("properties") or {}
        if (props.get("scope") or "").lower() == scope.lower():
            found[props["roleDefinitionId"].rstrip("/").split("/")[-1].lower()] = assignment.id
    return found


@task(name="grant-vault-roles", cache_policy=NO_CACHE, **ARM_RETRIES)
def grant_vault_roles(
    target: Target,
    account: AccountFacts,
    vault: VaultFacts,
    timeout_seconds: float,
    retry_seconds: float,
    dry_run: bool = False,
) -> list[RoleGrant]:
    """Assign the roles the account's SKU needs to the vault identity, then wait until ARM lists
    them. `PrincipalNotFound` (a fresh identity not yet replicated) is retried until the timeout;
    `RoleAssignmentExists` means someone already granted it under another name: the grant records
    that assignment's ID, read from the list. Takes the vault (not its principal ID) so a flow can
    pass the vault's future: the grants start the moment the identity exists."""
    az = clients(target)
    logger = get_run_logger()
    scope = account.id
    principal_id = vault.principal_id
    deadline = time.monotonic() + timeout_seconds
    existing = {} if principal_id == "(new identity)" else _assigned_roles(target, scope, principal_id)
    grants: list[RoleGrant] = []
    for role in required_roles(account.sku_name):
        name = ROLE_NAMES.get(role, role)
        if role.lower() in existing:
            grants.append(
                RoleGrant(
                    scope=scope,
                    role_definition_id=role,
                    role_name=name,
                    assignment_id=existing[role.lower()],
                    created=False,
                )
            )
            continue
        assignment_name = role_assignment_name(scope, principal_id, role)
        if dry_run:
            logger.info("Would grant %s on %s to %s", name, scope, principal_id)
            grants.append(
                RoleGrant(scope=scope, role_definition_id=role, role_name=name, assignment_id="", created=True)
            )
            continue
        body = {
            "properties": {
                "roleDefinitionId": role_definition_id(target.subscription_id, role),
                "principalId": principal_id,
                # Lets ARM skip the directory look-up that fails for an identity made seconds ago.
                "principalType": "ServicePrincipal",
            }
        }
        delay = retry_seconds
        while True:
            try:
                made = az.authorization.role_assignments.create(scope, assignment_name, body)
                assignment_id, created = made.id, True
                logger.info("Granted %s on %s to %s (%s)", name, scope, principal_id, assignment_id)
                break
            except HttpResponseError as exc:
                code = arm_error(exc)[0]
                if code == "RoleAssignmentExists":
                    # The same role for the same principal at this scope under another name (granted
                    # by someone else, not listed yet when we looked): its ID is read from the list below.
                    assignment_id, created = "", False
                    logger.info("%s on %s already granted to %s under another name", name, scope, principal_id)
                    break
                if code != "PrincipalNotFound" or time.monotonic() + delay > deadline:
                    raise
                logger.info("Identity %s not in the directory yet; retrying in %.0f s", principal_id, delay)
                time.sleep(delay)
                delay = min(delay * 2, 60)
        grants.append(
            RoleGrant(
                scope=scope, role_definition_id=role, role_name=name, assignment_id=assignment_id, created=created
            )
        )
    if dry_run or all(g.role_definition_id.lower() in existing for g in grants):
        return grants  # every grant was listed already: nothing to wait for (a converged re-run)
    # ARM is eventually consistent: wait until every grant is listed before replication relies on it.
    wanted = {g.role_definition_id.lower() for g in grants}
    delay = retry_seconds
    while not wanted <= set(listed := _assigned_roles(target, scope, principal_id)):
        if time.monotonic() + delay > deadline:
            raise StepFailed(
                step="grant roles",
                resource=scope,
                reason=f"role assignments for {principal_id} not listed after {timeout_seconds:.0f} s",
                fix="check the assignments in the portal (Access control (IAM)) and re-run",
            )
        time.sleep(delay)
        delay = min(delay * 2, 30)
    # An assignment that answered 409 is recorded by its real ID, the one listed for its role.
    return [
        g if g.assignment_id else g.model_copy(update={"assignment_id": listed[g.role_definition_id.lower()]})
        for g in grants
    ]
