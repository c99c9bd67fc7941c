"""Pure decisions of the private-link pipeline, on plain data: no I/O, no SDK, no Prefect.

Which roles the vault identity needs on an account, whether an account suits Azure Migrate, how to let
trusted services through a firewall without losing a rule, which account caches a server's data, what
a connection state means, whether a DNS answer is right and what to tell people when it is not.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Literal, get_args

from plmigrate.regions import geo_code, normalize_region

__all__ = [
    "ASR_GROUP_ID",
    "ASR_ZONE",
    "AZURE_DNS_IP",
    "BLOB_GROUP_ID",
    "BLOB_ZONE",
    "ROLE_BLOB_DATA_CONTRIBUTOR",
    "ROLE_BLOB_DATA_OWNER",
    "ROLE_CONTRIBUTOR",
    "ROLE_NAMES",
    "SOURCE_TYPES",
    "AccountFacts",
    "CacheChoice",
    "DnsAnswer",
    "DnsResult",
    "SourceType",
    "bypass_with_trusted_services",
    "connection_verdict",
    "dns_remediation",
    "dns_verdict",
    "needs_trusted_services",
    "owner_instructions",
    "public_zone_for",
    "rejected_message",
    "required_roles",
    "role_assignment_name",
    "role_definition_id",
    "select_cache_account",
    "storage_connection_id",
    "validate_account",
    "vault_numeric_id",
]

# Built-in role definitions (the same GUIDs in every tenant).
ROLE_CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
ROLE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ROLE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
ROLE_NAMES = {
    ROLE_CONTRIBUTOR: "Contributor",
    ROLE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    ROLE_BLOB_DATA_OWNER: "Storage Blob Data Owner",
}

ASR_GROUP_ID = "AzureSiteRecovery"
BLOB_GROUP_ID = "blob"
ASR_ZONE = "privatelink.siterecovery.windowsazure.com"
BLOB_ZONE = "privatelink.blob.core.windows.net"
AZURE_DNS_IP = "168.63.129.16"  # Azure's resolver: answers only from inside an Azure VNet

SourceType = Literal["vmware", "hyperv", "physical", "aws", "gcp"]
SOURCE_TYPES: tuple[SourceType, ...] = get_args(SourceType)

# Fixed namespace for role assignment names: changing it would make every re-run assign anew.
_ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("5b0c3f4e-3c1a-4d8e-9a57-706c6d696772")


# ---------------------------------------------------------------------------------------------------------------------
# Roles


def _tier(sku_name: str) -> str:
    return sku_name.split("_", 1)[0].strip().lower()


def required_roles(sku_name: str) -> tuple[str, ...]:
    """Role definition GUIDs the vault identity needs on a storage account of this SKU (e.g. Premium_LRS)."""
    tier = _tier(sku_name)
    if tier == "standard":
        return (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_CONTRIBUTOR)
    if tier == "premium":
        return (ROLE_CONTRIBUTOR, ROLE_BLOB_DATA_OWNER)
    raise ValueError(f"unknown storage SKU {sku_name!r}: expected Standard_* or Premium_*")


def role_assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    """The role assignment's name (a GUID), the same for the same scope, principal and role, so a re-run
    or a resumed run finds its earlier assignment instead of making a second one."""
    key = "|".join(part.strip().rstrip("/").lower() for part in (scope, principal_id, role_guid))
    return str(uuid.uuid5(_ROLE_ASSIGNMENT_NAMESPACE, key))


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    """The subscription-scoped ID of a built-in role definition, as a role assignment's roleDefinitionId."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


# ---------------------------------------------------------------------------------------------------------------------
# Storage accounts


@dataclass
class AccountFacts:
    """What the rules need to know about a storage account, read from ARM."""

    name: str
    id: str
    kind: str
    sku_name: str
    location: str
    blob_soft_delete_enabled: bool = False
    network_default_action: str = "Allow"
    bypass: str = "AzureServices"
    ip_rules: list[str] = field(default_factory=list)
    vnet_rules: list[str] = field(default_factory=list)

    @property
    def tier(self) -> str:
        """ "Standard" or "Premium" (the SKU name's part before "_")."""
        return self.sku_name.split("_", 1)[0]


def validate_account(facts: AccountFacts, role: Literal["replication", "cache"], region: str) -> list[str]:
    """Why this account cannot serve in this role for a vault in `region`; empty when it can."""
    problems = []
    if facts.kind != "StorageV2":
        problems.append(
            f"kind is {facts.kind or 'unknown'}: a private endpoint for Azure Migrate needs a general-purpose v2 "
            "(StorageV2) account: upgrade it or choose another"
        )
    if role == "cache" and _tier(facts.sku_name) != "standard":
        problems.append(
            f"SKU is {facts.sku_name}: a cache account must be Standard: choose a Standard StorageV2 account"
        )
    if role == "cache" and facts.blob_soft_delete_enabled:
        problems.append(
            "blob soft delete is on: soft delete is not supported on a cache account: turn it off "
            "(Data protection → Enable soft delete for blobs) or choose another account"
        )
    if normalize_region(facts.location) != normalize_region(region):
        problems.append(
            f"it is in {facts.location}, the vault in {normalize_region(region)}: the account must be in the "
            "vault's region: choose an account there"
        )
    return problems


def _bypass_parts(bypass: str | None) -> list[str]:
    parts: list[str] = []
    for part in (bypass or "").split(","):
        part = part.strip()
        # "None" is ARM's spelling of an empty set; it cannot be combined with anything else.
        if part and part.lower() != "none" and part.lower() not in (p.lower() for p in parts):
            parts.append(part)
    return parts


def bypass_with_trusted_services(bypass: str | None) -> str | None:
    """`networkAcls.bypass` with AzureServices added and every other entry kept in order ("Logging, Metrics"
    → "Logging, Metrics, AzureServices"); None when AzureServices is already there."""
    parts = _bypass_parts(bypass)
    if any(part.lower() == "azureservices" for part in parts):
        return None
    return ", ".join([*parts, "AzureServices"])


def needs_trusted_services(facts: AccountFacts) -> bool:
    """Whether the account's firewall keeps the vault out: it denies by default and lacks the bypass."""
    return facts.network_default_action.lower() == "deny" and bypass_with_trusted_services(facts.bypass) is not None


@dataclass
class CacheChoice:
    """Which account caches a server's replication data: `account` (None: no separate cache account needed,
    or none found), why (`reason`), whether the server can proceed (`ok`) and, when not, the `fix`."""

    account: str | None
    reason: str
    ok: bool = True
    fix: str = ""


def select_cache_account(
    source_type: SourceType,
    replication: AccountFacts,
    candidates: list[AccountFacts],
    region: str,
) -> CacheChoice:
    """The cache account for a server of `source_type` replicating to `replication`.

    Hyper-V replicates straight into a Standard replication account; with a Premium one it needs a separate
    Standard StorageV2 cache account. Agent-based sources (VMware, physical, AWS, GCP, through the replication
    appliance) always stage data in a Standard StorageV2 cache account: the replication account itself when it
    qualifies, else a separate one. Candidates are tried in the order given.
    """
    if source_type not in SOURCE_TYPES:
        raise ValueError(f"unknown source type {source_type!r}: expected one of {', '.join(SOURCE_TYPES)}")
    problems = validate_account(replication, "replication", region)
    if problems:
        return CacheChoice(
            None,
            f"replication account {replication.name} cannot be used: {'; '.join(problems)}",
            ok=False,
            fix="fix the replication account or choose another for this server",
        )
    premium = _tier(replication.sku_name) == "premium"
    if source_type == "hyperv" and not premium:
        return CacheChoice(
            None,
            f"Hyper-V replicates directly into the Standard replication account {replication.name}; "
            "no separate cache account is needed",
        )
    if source_type != "hyperv" and not validate_account(replication, "cache", region):
        return CacheChoice(
            replication.name,
            f"{_source_label(source_type)} replicates through the appliance, which stages data in a Standard "
            f"StorageV2 account: the Standard replication account {replication.name} serves as the cache",
        )
    why = (
        f"Hyper-V with the Premium replication account {replication.name} needs a separate Standard StorageV2 "
        "cache account"
        if source_type == "hyperv"
        else f"{_source_label(source_type)} replicates through the appliance, which stages data in a Standard "
        f"StorageV2 cache account, and the replication account {replication.name} cannot be one "
        f"({'; '.join(validate_account(replication, 'cache', region))})"
    )
    rejected = []
    for candidate in candidates:
        if candidate.name == replication.name:
            continue
        reasons = validate_account(candidate, "cache", region)
        if not reasons:
            return CacheChoice(
                candidate.name, f"{why}; using {candidate.name}, with private endpoints on both accounts"
            )
        rejected.append(f"{candidate.name}: {'; '.join(reasons)}")
    found = f"; candidates rejected: {' | '.join(rejected)}" if rejected else "; no cache account is declared"
    return CacheChoice(
        None,
        why + found,
        ok=False,
        fix=(
            f"declare a Standard StorageV2 account in {normalize_region(region)} with blob soft delete off as "
            "role: cache in the business-unit file, then re-run"
        ),
    )


def _source_label(source_type: SourceType) -> str:
    return {"vmware": "VMware", "physical": "A physical server", "aws": "AWS", "gcp": "GCP"}.get(
        source_type, source_type
    )


# ---------------------------------------------------------------------------------------------------------------------
# Private endpoint connections


def vault_numeric_id(connection_name: str) -> str:
    """The vault's numeric ID: the 2nd dot-separated part of its private endpoint connection's name."""
    parts = connection_name.split(".")
    if len(parts) < 2 or not parts[1]:
        raise ValueError(
            f"connection name {connection_name!r} has no second dot-separated part: it is not a Site Recovery "
            "vault's private endpoint connection"
        )
    return parts[1]


def connection_verdict(status: str | None) -> Literal["proceed", "wait", "fail"]:
    """Approved: proceed. Pending: wait for the owner. Rejected, Disconnected or anything unknown: fail."""
    state = (status or "").strip().lower()
    if state == "approved":
        return "proceed"
    if state == "pending":
        return "wait"
    return "fail"


def storage_connection_id(subscription_id: str, resource_group: str, account_name: str, connection_name: str) -> str:
    """The ARM ID of a private endpoint connection on a storage account (what the owner approves)."""
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Storage"
        f"/storageAccounts/{account_name}/privateEndpointConnections/{connection_name}"
    )


def owner_instructions(account_name: str, resource_group: str, subscription_id: str, connection_name: str) -> str:
    """Markdown for the storage account's owner: what to approve, in the portal and with the Azure CLI."""
    connection_id = storage_connection_id(subscription_id, resource_group, account_name, connection_name)
    return "\n".join(
        [
            f"### Approve the private endpoint connection on storage account `{account_name}`",
            "",
            f"Azure Migrate needs a private endpoint to `{account_name}` (resource group `{resource_group}`, "
            f"subscription `{subscription_id}`). Its connection `{connection_name}` is **Pending** until the "
            "account's owner approves it.",
            "",
            "In the Azure portal:",
            f"1. Open the storage account **{account_name}**.",
            "2. **Security + networking** → **Networking** → **Private endpoint connections**.",
            f"3. Select `{connection_name}` and choose **Approve**.",
            "",
            "Or with the Azure CLI:",
            "",
            "```sh",
            f"az network private-endpoint-connection approve --id {connection_id} \\",
            '  --description "Approved for Azure Migrate replication over Private Link"',
            "```",
            "",
            "Then resume the flow run in the Prefect UI (or let the unattended run notice it).",
        ]
    )


def rejected_message(account_name: str, resource_group: str, status: str, private_endpoint_id: str) -> str:
    """What to do when the connection to a storage account is Rejected or Disconnected, or still
    Pending when the approval wait ran out (nothing is wrong with it then: nothing is deleted)."""
    state = (status or "unknown").strip()
    if state.lower() == "pending":
        return (
            f"The private endpoint connection to storage account {account_name} (resource group {resource_group}) "
            "is still Pending: the wait for the owner's approval ran out (approval.timeout_seconds).\n"
            f"Ask the account's owner to approve it (see the run's approval artifact), then re-run plmigrate: it "
            f"finds the endpoint {private_endpoint_id} as it is and goes on once the connection is Approved. "
            "Raise approval.timeout_seconds in the business-unit file to wait longer in one run."
        )
    lines = [
        f"The private endpoint connection to storage account {account_name} (resource group {resource_group}) "
        f"is {state}, so replication cannot use it.",
    ]
    if state.lower() == "rejected":
        lines.append(
            "Ask the account's owner why they rejected it and to approve the new request; a rejected connection "
            "cannot be approved again."
        )
    else:
        lines.append(
            "The owner removed (or Azure disconnected) the connection; ask the owner to approve the new request."
        )
    lines.append(
        f"Delete the private endpoint {private_endpoint_id} (az network private-endpoint delete --ids "
        f"{private_endpoint_id}) and re-run plmigrate: it makes a new endpoint whose connection awaits approval."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------------
# DNS


@dataclass
class DnsAnswer:
    """What one nameserver answered for one FQDN: the A records at the end of the CNAME chain, or an error."""

    fqdn: str
    nameserver: str
    ips: list[str] = field(default_factory=list)
    cname_chain: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class DnsResult:
    """Whether one FQDN resolved right from one nameserver; when not, the problem and the fix."""

    ok: bool
    fqdn: str
    nameserver: str
    got: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    problem: str | None = None
    fix: str | None = None


def _forwarder_fix(fqdn: str) -> str:
    return (
        f"add a conditional forwarder for {public_zone_for(fqdn)} on this DNS server, to a DNS forwarder in a VNet "
        f"linked to the private DNS zone (not {AZURE_DNS_IP}, which on-prem cannot reach)"
    )


def dns_verdict(answer: DnsAnswer, expected_ips: list[str]) -> DnsResult:
    """Right only when there is at least one address and every address is private and one of the endpoint's."""
    result = DnsResult(
        ok=False, fqdn=answer.fqdn, nameserver=answer.nameserver, got=list(answer.ips), expected=list(expected_ips)
    )
    expected = set(expected_ips)
    if answer.error:
        result.problem = f"no answer: {answer.error}"
        result.fix = (
            f"make sure the appliance can reach {answer.nameserver}, then {_forwarder_fix(answer.fqdn)}"
            if "timeout" in answer.error.lower() or "unreachable" in answer.error.lower()
            else _forwarder_fix(answer.fqdn)
        )
        return result
    if not answer.ips:
        result.problem = "no A record in the answer"
        result.fix = _forwarder_fix(answer.fqdn)
        return result
    public = [ip for ip in answer.ips if not _is_private(ip)]
    if public:
        result.problem = f"resolved to public address {', '.join(public)}, the service's public endpoint"
        result.fix = _forwarder_fix(answer.fqdn)
        return result
    wrong = [ip for ip in answer.ips if ip not in expected]
    if wrong:
        result.problem = (
            f"resolved to {', '.join(wrong)}, not the private endpoint's {', '.join(expected_ips) or '(none known)'}"
        )
        result.fix = (
            f"the A record for {answer.fqdn} is stale or from another zone: check the private DNS zone's record and "
            "any hosts-file or DNS override on the way"
        )
        return result
    result.ok = True
    return result


def _is_private(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_private
    except ValueError:
        return False


def public_zone_for(fqdn: str) -> str:
    """The public zone a conditional forwarder must cover for this FQDN: blob.core.windows.net for a blob
    endpoint, {geo}.siterecovery.windowsazure.com for a Site Recovery one (privatelink. dropped)."""
    name = fqdn.strip().rstrip(".").lower()
    labels = [label for label in name.split(".") if label != "privatelink"]
    name = ".".join(labels)
    if name == "blob.core.windows.net" or name.endswith(".blob.core.windows.net"):
        return "blob.core.windows.net"
    if name.endswith(".siterecovery.windowsazure.com"):
        # {vault}-asr-pod01-{type}.{geo}.siterecovery.windowsazure.com → {geo}.siterecovery.windowsazure.com
        return ".".join(labels[-4:]) if len(labels) >= 4 else name
    return ".".join(labels[1:]) if len(labels) > 2 else name


def _private_zone_of(public_zone: str) -> str:
    if public_zone.endswith("siterecovery.windowsazure.com"):
        return ASR_ZONE  # one zone for every geo: records are named {vault}-asr-pod01-{type}.{geo}
    if public_zone == "blob.core.windows.net":
        return BLOB_ZONE
    return f"privatelink.{public_zone}"


def dns_remediation(bad_results: list[DnsResult], region: str) -> str:
    """What went wrong for each bad answer and how to fix it: on-prem conditional forwarders for the public
    zones, and hosts-file lines for a quick test on the appliance."""
    lines = ["These names did not resolve to their private endpoints from the appliance's nameservers:"]
    for result in bad_results:
        got = ", ".join(result.got) if result.got else "nothing"
        lines.append(
            f"- {result.fqdn} via {result.nameserver}: {result.problem or 'wrong answer'} (got {got}; "
            f"expected {', '.join(result.expected) or 'a private endpoint IP'})"
        )
    zones = sorted({public_zone_for(r.fqdn) for r in bad_results})
    if any(r.fqdn.lower().rstrip(".").endswith("siterecovery.windowsazure.com") for r in bad_results):
        region_zone = f"{geo_code(region)}.siterecovery.windowsazure.com"
        if region_zone not in zones:
            zones.append(region_zone)
    nameservers = sorted({r.nameserver for r in bad_results})
    lines += [
        "",
        f"Fix: on the on-prem DNS server(s) the appliance uses ({', '.join(nameservers)}), add a conditional "
        "forwarder for each of these public zones:",
        *(f"- {zone} (private zone {_private_zone_of(zone)})" for zone in zones),
        "pointing at a DNS forwarder in an Azure VNet linked to those private DNS zones (a DNS Private Resolver "
        f"inbound endpoint or a DNS server VM). Do not forward to {AZURE_DNS_IP}: Azure's resolver answers only "
        "from inside Azure and is unreachable from on-prem.",
    ]
    hosts = {}
    for result in bad_results:
        if result.expected:
            hosts.setdefault(result.fqdn.rstrip("."), result.expected[0])
    if hosts:
        lines += [
            "",
            "For a quick test only, these hosts-file lines on the appliance "
            "(C:\\Windows\\System32\\drivers\\etc\\hosts) bypass DNS:",
            *(f"{ip} {fqdn}" for fqdn, ip in hosts.items()),
        ]
    return "\n".join(lines)
