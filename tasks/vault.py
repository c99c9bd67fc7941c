"""Step 1a: the Recovery Services vault, with the system-assigned identity that will write to the
replication and cache storage accounts, and the resource groups that hold what plmigrate makes."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, clients, rest
from plmigrate.facts import VaultFacts
from plmigrate.naming import arm_id
from tasks.retrying import ARM_RETRIES, read_settled


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
    one, keeping any user-assigned identities it has)."""
    az = clients(target)
    logger = get_run_logger()
    written = False

    def read() -> dict | None:
        try:
            return rest(az.recoveryservices.vaults.get(resource_group, name))
        except ResourceNotFoundError:
            return None

    vault = read_settled(read)
    # A vault left Failed by an interrupted deployment is repaired by the same PUT that creates one.
    if dry_run and (vault is None or "SystemAssigned" not in str((vault.get("identity") or {}).get("type"))):
        vault_id = arm_id(target.subscription_id, resource_group, "Microsoft.RecoveryServices/vaults", name)
        logger.info(
            "Would %s vault %s with a system-assigned identity", "create" if vault is None else "update", vault_id
        )
        return VaultFacts(id=vault_id, name=name, location=location, principal_id="(new identity)", written=True)
    if vault is None or (vault.get("properties") or {}).get("provisioningState") == "Failed":
        body = {
            "location": location,
            "tags": tags,
            "sku": {"name": "Standard"},
            "identity": {"type": "SystemAssigned"},
            "properties": {"publicNetworkAccess": "Enabled"},
        }
        vault = rest(az.recoveryservices.vaults.begin_create_or_update(resource_group, name, body).result())
        written = True
        logger.info("Created (or repaired) vault %s", vault["id"])
    identity = vault.get("identity") or {}
    kinds = [k.strip() for k in (identity.get("type") or "None").split(",") if k.strip() and k.strip() != "None"]
    if "SystemAssigned" not in kinds:
        patch: dict = {"identity": {"type": ", ".join(["SystemAssigned", *kinds])}}
        if identity.get("userAssignedIdentities"):
            patch["identity"]["userAssignedIdentities"] = {k: {} for k in identity["userAssignedIdentities"]}
        vault = rest(az.recoveryservices.vaults.begin_update(resource_group, name, patch).result())
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
