"""Step 1a: the Recovery Services vault, with the system-assigned identity that will write to the
replication and cache storage accounts, and the resource groups that hold what plmigrate makes."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, clients, rest
from plmigrate.errors import StepFailed
from plmigrate.facts import VaultFacts
from plmigrate.naming import arm_id
from plmigrate.ownership import vault_repair_body, vault_verdict
from tasks.retrying import ARM_RETRIES, finish, read_settled


@task(name="ensure-resource-group", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_resource_group(target: Target, name: str, location: str, tags: dict[str, str], dry_run: bool = False) -> str:
    """The resource group exists; an existing one is left as it is (its tags are its owner's)."""
    az = clients(target)
    logger = get_run_logger()
    try:
        group = az.resources.resource_groups.get(name)
        logger.info("Resource group %s already exists", group.id)
        return group.id
    except ResourceNotFoundError:
        if dry_run:
            logger.info("Would create resource group %s in %s", name, location)
            return f"/subscriptions/{target.subscription_id}/resourceGroups/{name}"
        group = az.resources.resource_groups.create_or_update(name, {"location": location, "tags": tags})
        logger.info("Created resource group %s", group.id)
        return group.id


@task(name="ensure-vault", cache_policy=NO_CACHE, **ARM_RETRIES)
def ensure_vault(
    target: Target, resource_group: str, name: str, location: str, tags: dict[str, str], dry_run: bool = False
) -> VaultFacts:
    """The vault exists with a system-assigned identity (enabled on an existing vault that lacks
    one, keeping any user-assigned identities it has). A vault left Failed is repaired from its
    own body: its tags, SKU and properties stay (a vault whose public access was disabled stays
    disabled); a vault of that name in another region is refused."""
    az = clients(target)
    logger = get_run_logger()
    written = False
    vault_id = arm_id(target.subscription_id, resource_group, "Microsoft.RecoveryServices/vaults", name)

    def read() -> dict | None:
        try:
            return rest(az.recoveryservices.vaults.get(resource_group, name))
        except ResourceNotFoundError:
            return None

    vault = read_settled(read, target.operation_seconds)
    verdict = vault_verdict(vault, location=location)
    if verdict.kind == "foreign":
        raise StepFailed(step="create vault", resource=vault_id, reason=verdict.reason, fix=verdict.fix)
    if dry_run and (
        verdict.kind != "ours" or "SystemAssigned" not in str(((vault or {}).get("identity") or {}).get("type"))
    ):
        what = {"create": "create", "repair": "repair"}.get(verdict.kind, "update")
        logger.info("Would %s vault %s with a system-assigned identity", what, vault_id)
        return VaultFacts(id=vault_id, name=name, location=location, principal_id="(new identity)", written=True)
    if verdict.kind in ("create", "repair"):
        # Created with the business unit's tags; repaired (left Failed by an interrupted
        # deployment) by the same PUT, made from the vault's own body.
        body = (
            vault_repair_body(vault)
            if vault is not None
            else {
                "location": location,
                "tags": tags,
                "sku": {"name": "Standard"},
                "identity": {"type": "SystemAssigned"},
            }
        )
        poller = az.recoveryservices.vaults.begin_create_or_update(resource_group, name, body)
        vault = rest(finish(poller, target.operation_seconds, step="create vault", resource=vault_id))
        written = True
        logger.info("%s vault %s", "Repaired" if verdict.kind == "repair" else "Created", vault["id"])
    assert vault is not None
    identity = vault.get("identity") or {}
    kinds = [k.strip() for k in (identity.get("type") or "None").split(",") if k.strip() and k.strip() != "None"]
    if "SystemAssigned" not in kinds:
        patch: dict = {"identity": {"type": ", ".join(["SystemAssigned", *kinds])}}
        if identity.get("userAssignedIdentities"):
            patch["identity"]["userAssignedIdentities"] = {k: {} for k in identity["userAssignedIdentities"]}
        poller = az.recoveryservices.vaults.begin_update(resource_group, name, patch)
        vault = rest(finish(poller, target.operation_seconds, step="enable vault identity", resource=vault_id))
        written = True
        logger.info("Enabled the system-assigned identity of vault %s", vault["id"])
    elif not written:
        logger.info("Vault %s already has its system-assigned identity", vault["id"])
    return VaultFacts(
        id=vault["id"],
        name=vault["name"],
        location=vault["location"],
        principal_id=vault["identity"]["principalId"],
        written=written,
    )
