"""Step 3b: let trusted Microsoft services (the vault's identity among them) through a storage
account's firewall, keeping every existing IP and VNet rule."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from plmigrate.azure import Target, clients, rest
from plmigrate.model import StorageAccountRef
from plmigrate.rules import AccountFacts, bypass_with_trusted_services
from tasks.retrying import ARM_RETRIES


@task(name="allow-trusted-services", cache_policy=NO_CACHE, **ARM_RETRIES)
def allow_trusted_services(
    target: Target, account: StorageAccountRef, dry_run: bool = False, validated: AccountFacts | None = None
) -> bool:
    """`networkAcls.bypass` includes AzureServices where the account restricts network access.
    Read-modify-write of the whole rule set, so no rule is lost. Returns whether it wrote.

    `validated` (the facts read at validation, seconds ago) spares the read where they show
    nothing to change, as on every re-run; a change is always made on a fresh read."""
    az = clients(target)
    logger = get_run_logger()
    if validated is not None and (
        validated.network_default_action != "Deny" or bypass_with_trusted_services(validated.bypass) is None
    ):
        logger.info("Storage account %s needs no bypass change (as validated)", validated.id)
        return False
    # Read now, not from the facts read at validation: someone may have changed the rules since.
    current = rest(az.storage.storage_accounts.get_properties(account.resource_group, account.name))
    acls = (current.get("properties") or {}).get("networkAcls") or {}
    if acls.get("defaultAction", "Allow") != "Deny":
        logger.info("Storage account %s allows all networks; no bypass needed", current["id"])
        return False
    bypass = bypass_with_trusted_services(acls.get("bypass", "None"))
    if bypass is None:
        logger.info("Storage account %s already lets trusted Microsoft services through", current["id"])
        return False
    network_acls = {**acls, "bypass": bypass}
    if dry_run:
        logger.info("Would set bypass of %s to %r, keeping its rules", current["id"], bypass)
        return True
    az.storage.storage_accounts.update(
        account.resource_group, account.name, {"properties": {"networkAcls": network_acls}}
    )
    logger.info(
        "Storage account %s: bypass %r -> %r (kept %d IP and %d VNet rules)",
        current["id"],
        acls.get("bypass", "None"),
        bypass,
        len(acls.get("ipRules") or []),
        len(acls.get("virtualNetworkRules") or []),
    )
    return True
