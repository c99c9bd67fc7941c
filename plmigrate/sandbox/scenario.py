"""The scenario: a YAML description of the world the sandbox starts with.

It seeds what already exists in the customer's Azure and on-prem network before plmigrate runs:
resource groups, VNets, storage accounts (with their rules), on-prem DNS forwarders, replication
appliances and the servers they discovered, plus how Azure behaves today (latencies, faults,
throttling, identity propagation, how long Site Recovery's work takes). See docs/sandbox.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceGroupSeed(_Strict):
    name: str
    location: str


class SubnetSeed(_Strict):
    name: str
    address_prefix: str


class VirtualNetworkSeed(_Strict):
    resource_group: str
    name: str
    location: str
    address_prefixes: list[str]
    subnets: list[SubnetSeed] = Field(default_factory=list)


class NetworkRulesSeed(_Strict):
    default_action: Literal["Allow", "Deny"] = "Allow"
    bypass: str = "None"  # "None" or a comma list: "Logging, Metrics, AzureServices"
    ip_rules: list[str] = Field(default_factory=list)
    virtual_network_rules: list[str] = Field(default_factory=list)  # subnet IDs


class StorageAccountSeed(_Strict):
    resource_group: str
    name: str
    location: str
    kind: Literal["StorageV2", "Storage", "BlobStorage", "BlockBlobStorage", "FileStorage"] = "StorageV2"
    sku: str = "Standard_LRS"  # the tier is the part before "_"
    network_rules: NetworkRulesSeed = Field(default_factory=NetworkRulesSeed)
    blob_soft_delete_days: int = 0  # 0: soft delete off
    # Whether plmigrate's principal may approve private endpoint connections on this account.
    # False: its endpoints' connections stay Pending until the owner approves (admin API).
    principal_may_approve: bool = True


class RoleAssignmentSeed(_Strict):
    """A role assignment someone else made before plmigrate runs (it must survive untouched)."""

    scope: str
    role_definition_id: str  # the GUID or the full ID
    principal_id: str
    principal_type: str = "User"


class DnsForwarderSeed(_Strict):
    """An on-prem conditional forwarder: queries for `zone` go to a DNS forwarder inside `vnet_id`."""

    zone: str  # a public zone, e.g. blob.core.windows.net or eus.siterecovery.windowsazure.com
    vnet_id: str


class LatencySeed(_Strict):
    method: str = "*"
    resource_type: str = "*"
    seconds: float


class FaultSeed(_Strict):
    """Make matching calls fail. `rate` (with `seed`) or `sequence` (one bool per matching call,
    True = fail; when exhausted, calls pass) picks which calls. `lro_failure`: the call is accepted
    and its long-running operation ends Failed, instead of an HTTP error."""

    method: str = "*"
    resource_type: str = "*"
    status: int = 500
    code: str = "InternalServerError"
    message: str = "The sandbox injected a fault."
    retry_after: float | None = None
    lro_failure: bool = False
    rate: float | None = None
    seed: int = 0
    sequence: list[bool] | None = None


class BucketSeed(_Strict):
    burst: int
    per_second: float


class ThrottlingSeed(_Strict):
    enabled: bool = True
    reads: BucketSeed = Field(default_factory=lambda: BucketSeed(burst=250, per_second=25))
    writes: BucketSeed = Field(default_factory=lambda: BucketSeed(burst=200, per_second=10))
    deletes: BucketSeed = Field(default_factory=lambda: BucketSeed(burst=200, per_second=10))


class IdentitySeed(_Strict):
    # For this long after a managed identity is created, a role assignment without
    # principalType fails 400 PrincipalNotFound (Entra replication delay).
    principal_not_found_seconds: float = 10.0
    # Fault switch: fail role assignments for fresh identities even with principalType.
    principal_not_found_even_with_type: bool = False
    # How long after creation a role assignment shows in list_for_scope.
    assignment_visible_after_seconds: float = 0.0


class MachineSeed(_Strict):
    """A server the appliance discovered (a Microsoft.OffAzure machine) and how it behaves."""

    name: str  # the display name: the server's name in the inventory
    source_type: Literal["vmware", "physical", "hyperv", "aws", "gcp"] = "vmware"
    os_type: Literal["Windows", "Linux"] = "Windows"
    os_name: str = "Windows Server 2019 Datacenter"
    cores: int = 2
    memory_mb: int = 8192
    disks_gb: list[int] = Field(default_factory=lambda: [128])
    ip_address: str | None = None  # made up from the name when not given
    mobility_agent: bool = True  # the Site Recovery mobility agent is installed and registered
    # Faults of this machine's replication: the enable job fails; replication stalls (progress
    # stops, health Critical); the test failover job fails; the failover job fails.
    fault: Literal["enable_fails", "replication_stalls", "test_failover_fails", "failover_fails"] | None = None


def machines_from_inventory(path: str | Path, appliance: str) -> list[MachineSeed]:
    """What an appliance discovered, made from a wave inventory CSV (`server`, `source_type`,
    `appliance` columns): every server the inventory assigns to it, with the mobility agent.
    Benchmarks that generate thousands of servers seed their appliance with this."""
    import csv

    with open(path, newline="") as handle:
        return [
            MachineSeed(name=row["server"], source_type=row.get("source_type") or "vmware")  # type: ignore[arg-type]
            for row in csv.DictReader(handle)
            if (row.get("appliance") or "").lower() == appliance.lower()
        ]


class ApplianceSeed(_Strict):
    """An Azure Migrate replication appliance on-prem: its discovery sites and what it discovered.
    It is unregistered until `plmigrate sandbox register-appliance` (a person, on the appliance)."""

    name: str
    resource_group: str  # where its Microsoft.OffAzure sites live (the Azure Migrate project's)
    location: str = "eastus"
    machines: list[MachineSeed] = Field(default_factory=list)


class SiteRecoverySeed(_Strict):
    """How long Site Recovery's work takes, in seconds of sandbox time (tests: seconds; the demo:
    tens of seconds). `time_scale` multiplies every duration; the admin API can change it and
    advance the clock (docs/sandbox.md)."""

    time_scale: float = 1.0
    enable_seconds: float = 2.0
    initial_replication_seconds: float = 6.0
    test_failover_seconds: float = 2.0
    test_failover_cleanup_seconds: float = 1.0
    failover_seconds: float = 2.0
    commit_seconds: float = 1.0
    disable_seconds: float = 1.0
    update_seconds: float = 1.0
    repair_seconds: float = 2.0
    recovery_point_seconds: float = 300.0  # crash-consistent recovery point frequency (the RPO shown)


class Scenario(_Strict):
    subscription_id: str = "00000000-0000-0000-0000-00000000a11e"
    tenant_id: str = "11111111-0000-0000-0000-00000000a11e"
    principal_id: str = "22222222-0000-0000-0000-00000000a11e"  # plmigrate's own identity
    lro_polls: int = 1  # InProgress answers before an operation reports its end
    resource_groups: list[ResourceGroupSeed] = Field(default_factory=list)
    virtual_networks: list[VirtualNetworkSeed] = Field(default_factory=list)
    storage_accounts: list[StorageAccountSeed] = Field(default_factory=list)
    role_assignments: list[RoleAssignmentSeed] = Field(default_factory=list)
    dns_forwarders: list[DnsForwarderSeed] = Field(default_factory=list)
    latencies: list[LatencySeed] = Field(default_factory=list)
    faults: list[FaultSeed] = Field(default_factory=list)
    throttling: ThrottlingSeed = Field(default_factory=ThrottlingSeed)
    identity: IdentitySeed = Field(default_factory=IdentitySeed)
    appliances: list[ApplianceSeed] = Field(default_factory=list)
    site_recovery: SiteRecoverySeed = Field(default_factory=SiteRecoverySeed)

    @classmethod
    def load(cls, path: str | Path | None) -> Scenario:
        """Load a scenario file; `None` or "default"/"empty" name the shipped ones."""
        if path is None or str(path) in {"default", "empty"}:
            path = SCENARIO_DIR / f"{path or 'default'}.yaml"
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls.model_validate(data)
