"""Site Recovery's errors: why a job failed (`Problem`, rendered into `errors[]` and health errors)
and the synchronous refusals (`ArmError` in ARM's envelope).

The messages, possible causes and recommended actions follow Site Recovery's style and Microsoft's
troubleshooting articles. The codes are the sandbox's best knowledge, not Azure's numeric service
codes: docs/sandbox.md lists them as such.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from plmigrate.sandbox.arm import ArmError


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    possible_causes: str
    recommended_action: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(**data)


def not_allowed(operation: str, item_name: str, state: str, allowed: list[str]) -> ArmError:
    """An operation not in the item's `allowedOperations`."""
    return ArmError(
        400,
        "OperationNotAllowed",
        f"The operation '{operation}' is not allowed on the replicated item '{item_name}' in its current state "
        f"'{state}'. Allowed operations: {', '.join(allowed) or 'none'}.",
    )


def in_progress(item_name: str, scenario: str, job_id: str) -> ArmError:
    return ArmError(
        409,
        "OperationInProgress",
        f"Another operation ('{scenario}', job '{job_id.rsplit('/', 1)[-1]}') is in progress on the replicated "
        f"item '{item_name}'. Wait for it to complete and try again.",
    )


def invalid_input(message: str) -> ArmError:
    return ArmError(400, "InvalidInput", message)


# -- why an enable, failover or registration fails -------------------------------------------------
def vault_endpoint_not_approved(vault: str) -> Problem:
    return Problem(
        "PrivateEndpointConnectionNotApproved",
        f"The Recovery Services vault '{vault}' has public network access disabled and no approved private "
        "endpoint connection for Site Recovery (group 'AzureSiteRecovery').",
        "The vault's private endpoint connection is pending or was rejected, or the vault has no private endpoint.",
        "Approve the vault's private endpoint connection (Recovery Services vault > Networking > Private access), "
        "or enable public network access on the vault, then retry the operation.",
    )


def vault_dns_unresolved(vault: str, fqdn: str, got: list[str], want: list[str]) -> Problem:
    answer = ", ".join(got) or "no address"
    return Problem(
        "ServiceEndpointNotReachableOverPrivateLink",
        f"The replication appliance could not reach the Site Recovery service of vault '{vault}': '{fqdn}' "
        f"resolved to {answer}, not to the vault's private endpoint ({', '.join(want)}).",
        "The on-premises DNS servers of the appliance do not forward "
        "'siterecovery.windowsazure.com' names to a resolver that answers from the private DNS zone "
        "'privatelink.siterecovery.windowsazure.com', or the zone lacks the endpoint's records.",
        "Add a conditional forwarder for the region's siterecovery.windowsazure.com zone on the on-premises DNS "
        "servers to a DNS forwarder in a virtual network linked to the private DNS zone, check the zone's A "
        "records against the private endpoint's IP addresses, then retry the operation.",
    )


def roles_missing(account: str, principal: str, roles: list[str]) -> Problem:
    return Problem(
        "StorageAccountAccessDenied",
        f"The managed identity '{principal}' of the Recovery Services vault does not have the role(s) "
        f"{', '.join(roles)} on the cache storage account '{account}'.",
        "The vault's system-assigned identity was not granted access to the storage account, or the role "
        "assignment has not propagated yet.",
        f"Assign {', '.join(roles)} on the storage account '{account}' to the vault's managed identity, wait "
        "a few minutes for the assignment to take effect, then retry the operation.",
    )


def blob_endpoint_not_approved(account: str) -> Problem:
    return Problem(
        "StorageAccountPrivateEndpointNotApproved",
        f"The cache storage account '{account}' denies public network access and has no approved private "
        "endpoint connection for 'blob'.",
        "The storage account's private endpoint connection is pending approval by its owner, was rejected, or "
        "does not exist.",
        "Create a private endpoint for the storage account's blob service in the virtual network reachable from "
        "on-premises and have the account owner approve the connection, then retry the operation.",
    )


def blob_dns_unresolved(account: str, fqdn: str, got: list[str], want: list[str]) -> Problem:
    return Problem(
        "StorageAccountNotReachableOverPrivateLink",
        f"The process server could not reach the cache storage account '{account}': '{fqdn}' resolved to "
        f"{', '.join(got) or 'no address'}, not to its private endpoint ({', '.join(want)}).",
        "The on-premises DNS servers do not forward 'blob.core.windows.net' to a resolver that answers from the "
        "private DNS zone 'privatelink.blob.core.windows.net', or the zone lacks the account's record.",
        "Add a conditional forwarder for blob.core.windows.net on the on-premises DNS servers and check the "
        "private DNS zone's records, then retry the operation.",
    )


def premium_cache(account: str, sku: str) -> Problem:
    return Problem(
        "CacheStorageAccountTypeNotSupported",
        f"The storage account '{account}' ({sku}) cannot be used as the cache storage account.",
        "Premium storage accounts are not supported as cache (log) storage accounts.",
        "Select a Standard general-purpose v2 storage account as the cache storage account and retry.",
    )


def soft_delete_cache(account: str, days: int) -> Problem:
    return Problem(
        "CacheStorageAccountSoftDeleteEnabled",
        f"Blob soft delete is enabled on the cache storage account '{account}' (retention {days} day(s)).",
        "Soft delete is not supported on the cache storage account: deleted log blobs keep being billed and "
        "replication slows down.",
        f"Disable blob soft delete on the storage account '{account}', or select another cache storage "
        "account, and retry.",
    )


def missing_target(kind: str, resource_id: str) -> Problem:
    code = {
        "resource group": "TargetResourceGroupNotFound",
        "virtual network": "TargetNetworkNotFound",
        "subnet": "TargetSubnetNotFound",
        "test virtual network": "TestNetworkNotFound",
        "test subnet": "TestSubnetNotFound",
        "storage account": "StorageAccountNotFound",
        "policy": "PolicyNotFound",
    }[kind]
    return Problem(
        code,
        f"The {kind} '{resource_id}' does not exist or cannot be accessed.",
        f"The {kind} was deleted, is in another subscription or region, or its name is wrong.",
        f"Create the {kind} or select an existing one, then retry the operation.",
    )


def machine_not_discovered(machine_id: str, appliance: str) -> Problem:
    return Problem(
        "DiscoveredMachineNotFound",
        f"The machine '{machine_id}' was not discovered by the replication appliance '{appliance}'.",
        "The machine ID is wrong, the machine is discovered by another appliance, or discovery has not completed yet.",
        "Use the ID of a machine the appliance discovered (Microsoft.OffAzure machines of its sites), or wait "
        "for discovery to complete, and retry.",
    )


def no_mobility_agent(server: str) -> Problem:
    return Problem(
        "MobilityServiceNotInstalled",
        f"The Mobility service agent is not installed on the machine '{server}', or it is not registered with "
        "the replication appliance.",
        "The agent was never installed, its installation failed, or it cannot reach the appliance.",
        "Install the Mobility service agent on the machine, register it with the replication appliance using "
        "the appliance's passphrase, and retry enabling replication.",
    )


def injected(operation: str, server: str) -> Problem:
    return Problem(
        "InternalError",
        f"The operation '{operation}' failed on the machine '{server}' because of an internal error.",
        "A transient error in the Site Recovery service or on the appliance (injected by the sandbox scenario).",
        "Retry the operation after some time. If the issue persists, contact support.",
    )


def injected_lro(code: str, message: str) -> Problem:
    return Problem(code, message, "An error injected by the sandbox's fault rules.", "Retry the operation.")


def replication_stalled(server: str) -> Problem:
    return Problem(
        "ReplicationStalled",
        f"Replication of the machine '{server}' is not progressing: no data has been uploaded to the cache "
        "storage account in the last 30 minutes.",
        "The source machine cannot reach the process server, or the process server cannot upload to the "
        "cache storage account.",
        "Check the network connectivity between the machine, the appliance and the storage account, then "
        "resynchronize the replication (Repair replication).",
    )
