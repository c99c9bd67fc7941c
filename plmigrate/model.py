"""The business-unit file: one landing zone's settings, validated whole before the first write.

A business unit (YAML, examples under deployments/) names the subscription, region, vault, the subnet
for private endpoints, the private DNS zones' resource group and the VNets linked to them, the
appliances and their on-prem nameservers, the storage accounts servers replicate to, and how approval
and waiting behave. Every field carries a description because these models are also the Prefect UI's
form. Bad input becomes one `InputError` listing every problem as "field.path: what is wrong — fix".
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import re
import typing
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plmigrate.errors import InputError
from plmigrate.naming import endpoint_name
from plmigrate.regions import GEO_CODES, normalize_region

__all__ = [
    "DEFAULT_TAGS",
    "Appliance",
    "ApprovalPolicy",
    "BusinessUnit",
    "CutoverPolicy",
    "CutoverWindow",
    "LifecycleTimeouts",
    "Limits",
    "Migration",
    "StorageAccountRef",
    "SubnetRef",
    "TestNetwork",
    "Timeouts",
    "VnetRef",
    "describe_validation_error",
    "load_business_unit",
]

DEFAULT_TAGS: dict[str, str] = {"managed-by": "plmigrate"}

# ---------------------------------------------------------------------------------------------------------------------
# Names. Each check raises ValueError("what is wrong — fix"); pydantic puts the field path in front.
# Values are validated before they reach an ARM URL, so nothing path-like can slip into one.

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RESOURCE_GROUP = re.compile(r"^[\w\-.()]{1,90}$")  # \w is Unicode letters/digits/_ as ARM allows
_VAULT = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,49}$")
_STORAGE = re.compile(r"^[a-z0-9]{3,24}$")
_VNET = re.compile(r"^[A-Za-z0-9](?:[\w.-]{0,62}[\w])$")  # 2-64, ends alphanumeric or _
_SUBNET = re.compile(r"^[A-Za-z0-9](?:[\w.-]{0,78}[\w])?$")  # 1-80
_SIMPLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_TAG_FORBIDDEN = set("<>%&\\?/")


def _reject_path_like(value: str, what: str) -> None:
    if "/" in value or "\\" in value or ".." in value:
        raise ValueError(f"{value!r} looks like a path, not a {what} name — give the bare name (no '/', '\\' or '..')")


def _guid(value: str) -> str:
    if not _GUID.match(value):
        raise ValueError(f"{value!r} is not a GUID — use the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    return value.lower()


def _resource_group(value: str) -> str:
    _reject_path_like(value, "resource group")
    if not _RESOURCE_GROUP.match(value):
        raise ValueError(
            f"{value!r} is not a valid resource group name — use 1-90 letters, digits, '-', '_', '.', '(' or ')'"
        )
    if value.endswith("."):
        raise ValueError(f"{value!r} ends with '.' — resource group names cannot end with a period")
    return value


def _vault_name(value: str) -> str:
    _reject_path_like(value, "vault")
    if not _VAULT.match(value):
        raise ValueError(
            f"{value!r} is not a valid Recovery Services vault name — use 2-50 letters, digits or hyphens, "
            "starting with a letter"
        )
    return value


def _storage_name(value: str) -> str:
    _reject_path_like(value, "storage account")
    if not _STORAGE.match(value):
        raise ValueError(f"{value!r} is not a valid storage account name — use 3-24 lowercase letters and digits only")
    return value


def _vnet_name(value: str) -> str:
    _reject_path_like(value, "virtual network")
    if not _VNET.match(value):
        raise ValueError(
            f"{value!r} is not a valid virtual network name — use 2-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit and ending with a letter, digit or '_'"
        )
    return value


def _subnet_name(value: str) -> str:
    _reject_path_like(value, "subnet")
    if not _SUBNET.match(value):
        raise ValueError(
            f"{value!r} is not a valid subnet name — use 1-80 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit and ending with a letter, digit or '_'"
        )
    return value


def _simple_name(value: str) -> str:
    _reject_path_like(value, "plain")
    if not _SIMPLE_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name — use 1-63 letters, digits, '-' or '_', starting with a letter"
        )
    return value


def _parse_nameserver(text: str) -> tuple[str, int]:
    host, sep, port_text = text.strip().partition(":")
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an IPv4 address — give the DNS server as an IPv4 address, optionally 'ip:port'"
        ) from None
    port = 53
    if sep:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{text!r} has an invalid port — use a port from 1 to 65535, as in 10.0.0.4:53")
        port = int(port_text)
    return str(address), port


def _nameserver(value: str) -> str:
    _parse_nameserver(value)
    return value


Guid = Annotated[str, AfterValidator(_guid)]
ResourceGroupName = Annotated[str, AfterValidator(_resource_group)]
VaultName = Annotated[str, AfterValidator(_vault_name)]
StorageAccountName = Annotated[str, AfterValidator(_storage_name)]
VnetName = Annotated[str, AfterValidator(_vnet_name)]
SubnetName = Annotated[str, AfterValidator(_subnet_name)]
SimpleName = Annotated[str, AfterValidator(_simple_name)]
Nameserver = Annotated[str, AfterValidator(_nameserver)]


class _Section(BaseModel):
    """Shared configuration: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=True)


# ---------------------------------------------------------------------------------------------------------------------
# Sections


class Appliance(_Section):
    """An Azure Migrate replication appliance on-prem, and the DNS servers it resolves Azure names with."""

    name: SimpleName = Field(
        description="The appliance's name, as registered in Azure Migrate (e.g. appliance-fin-01)."
    )
    nameservers: list[Nameserver] = Field(
        default_factory=list,
        description=(
            "The on-prem DNS servers the appliance uses, as IPv4 addresses, optionally 'ip:port' "
            "(e.g. 10.0.0.4 or 10.0.0.4:53). DNS is verified against each of them. May be empty in the file when "
            "the target supplies it at run time (the sandbox target fills in its own DNS server)."
        ),
    )

    @field_validator("nameservers")
    @classmethod
    def _unique_nameservers(cls, nameservers: list[str]) -> list[str]:
        endpoints = [":".join(map(str, _parse_nameserver(n))) for n in nameservers]
        _reject_duplicates(endpoints, "nameserver", "list each nameserver once")
        return nameservers

    def endpoints(self) -> list[tuple[str, int]]:
        """The nameservers as (IPv4 address, port) pairs; port 53 when none is given."""
        return [_parse_nameserver(text) for text in self.nameservers]


class VnetRef(_Section):
    """A virtual network, by resource group and name (in the business unit's subscription unless given)."""

    resource_group: ResourceGroupName = Field(description="The VNet's resource group.")
    vnet: VnetName = Field(description="The VNet's name.")
    subscription_id: Guid | None = Field(
        default=None, description="The VNet's subscription, when not the business unit's (e.g. a hub subscription)."
    )

    def vnet_id(self, subscription_id: str) -> str:
        """The VNet's ARM ID; `subscription_id` is the business unit's, used unless this ref names its own."""
        subscription = self.subscription_id or subscription_id
        return (
            f"/subscriptions/{subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Network/virtualNetworks/{self.vnet}"
        )


class SubnetRef(VnetRef):
    """A subnet, by resource group, VNet and name (in the business unit's subscription unless given)."""

    subnet: SubnetName = Field(description="The subnet's name.")

    def subnet_id(self, subscription_id: str) -> str:
        """The subnet's ARM ID; `subscription_id` is the business unit's, used unless this ref names its own."""
        return f"{self.vnet_id(subscription_id)}/subnets/{self.subnet}"

    def vnet_ref(self) -> VnetRef:
        """The VNet this subnet is in."""
        return VnetRef(resource_group=self.resource_group, vnet=self.vnet, subscription_id=self.subscription_id)


class StorageAccountRef(_Section):
    """A storage account servers replicate through, in the business unit's subscription."""

    name: StorageAccountName = Field(description="The storage account's name (3-24 lowercase letters and digits).")
    resource_group: ResourceGroupName = Field(description="The storage account's resource group.")
    role: Literal["replication", "cache"] = Field(
        description=(
            "'replication': servers' disks replicate into it. 'cache': a Standard StorageV2 account that stages "
            "replication data (needed e.g. for Hyper-V servers on a Premium replication account)."
        )
    )

    def id(self, subscription_id: str) -> str:
        """The storage account's ARM ID."""
        return (
            f"/subscriptions/{subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{self.name}"
        )


class ApprovalPolicy(_Section):
    """How a private endpoint connection that awaits the storage account owner's approval is handled."""

    mode: Literal["wait_for_owner", "self_approve"] = Field(
        default="wait_for_owner",
        description=(
            "'wait_for_owner': tell the owner what to approve and wait. 'self_approve': approve it ourselves "
            "where Azure permits (our identity may approve on the account), else wait for the owner."
        ),
    )
    timeout_seconds: float = Field(
        default=3600, gt=0, description="How long to wait for an approval before the run fails."
    )
    poll_seconds: float = Field(
        default=10,
        gt=0,
        description=(
            "How often to re-check the connection while waiting, and how often a run paused in the UI (the "
            "connection approval, the appliance wait, the cutover approval) checks for a Resume (whole seconds, "
            "at least 1)."
        ),
    )
    pause_in_ui: bool = Field(
        default=True,
        description=(
            "True: pause the flow run for a Resume in the Prefect UI (re-checking Azure on resume) when the run is on "
            "a Prefect server a person can open (a deployment run, or PREFECT_API_URL set); a run started from the "
            "terminal without one re-reads Azure instead. False: always re-read Azure until approved or timed out."
        ),
    )

    @model_validator(mode="after")
    def _poll_within_timeout(self) -> ApprovalPolicy:
        if self.poll_seconds > self.timeout_seconds:
            raise ValueError(
                f"poll_seconds ({self.poll_seconds:g}) is longer than timeout_seconds ({self.timeout_seconds:g}) "
                "— poll more often than the timeout"
            )
        return self


class Timeouts(_Section):
    """How long to wait for Azure: DNS propagation, role assignments becoming effective, each
    long-running operation (and ARM's Retry-After waits), and the run as a whole. Every wait ends
    in a failed step that says what was still running, never in a run that hangs."""

    dns_seconds: float = Field(
        default=600, gt=0, description="How long DNS may take to resolve to the private endpoint (propagation)."
    )
    dns_retry_seconds: float = Field(default=10, gt=0, description="Pause between DNS checks while waiting.")
    role_seconds: float = Field(
        default=300, gt=0, description="How long role assignments may take to be listed (and a new identity known)."
    )
    role_retry_seconds: float = Field(default=5, gt=0, description="Pause between role checks while waiting.")
    operation_seconds: float = Field(
        default=1800,
        gt=0,
        description=(
            "How long one Azure operation may take: a long-running PUT (vault, private endpoint, zone, link, zone "
            "group), an operation found still running on a resource, or one ARM call with its retries and the "
            "Retry-After waits ARM asks for. Past it the step fails, naming what was still running."
        ),
    )
    run_seconds: float | None = Field(
        default=None,
        gt=0,
        description=(
            "How long one flow run (a landing zone or a wave) may take in all; past it the run fails instead of "
            "staying Running. Empty: every wait the run may do (approval, and a wave's migration stages) plus "
            "4 hours for the rest."
        ),
    )

    @model_validator(mode="after")
    def _retries_within_timeouts(self) -> Timeouts:
        for retry, total in (
            ("dns_retry_seconds", "dns_seconds"),
            ("role_retry_seconds", "role_seconds"),
            ("operation_seconds", "run_seconds"),
        ):
            if getattr(self, total) is not None and getattr(self, retry) > getattr(self, total):
                raise ValueError(f"{retry} is longer than {total} — make the first shorter than the second")
        return self


class Limits(_Section):
    """Concurrency bounds, so a business unit's runs stay inside ARM's request budget."""

    arm_concurrency: int = Field(
        default=8, ge=1, le=64, description="At most this many ARM calls in flight at once for this business unit."
    )
    # ARM refills 25 reads and 10 writes per second per subscription and principal (after a burst of
    # 250 / 200); pacing a little below that keeps a wave of thousands clear of 429 storms, and leaves
    # room for other tools using the same principal.
    arm_reads_per_second: float = Field(
        default=20, gt=0, le=1000, description="Client-side pace of ARM reads (GET), per second, after the burst."
    )
    arm_writes_per_second: float = Field(
        default=8, gt=0, le=1000, description="Client-side pace of ARM writes (PUT/PATCH/POST/DELETE), per second."
    )
    arm_burst: int = Field(
        default=50, ge=1, le=1000, description="ARM calls of each kind allowed at once before the pace applies."
    )
    servers_per_task: int = Field(
        default=100,
        ge=1,
        le=5000,
        description="Servers per group: one Prefect task per group for the lifecycle's writes (each task run "
        "costs ~13 ms and a few records on the Prefect server); one log record naming the ready servers "
        "and one progress step per group when a wave records readiness.",
    )


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"{value!r} is not a time of day — write it as HH:MM on a 24-hour clock, e.g. 22:00")
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone — use an IANA name such as Europe/Paris, America/New_York or UTC"
        ) from None
    return value


class CutoverWindow(_Section):
    """A weekly window in which cutover (failover, commit, removal of replication) may run."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, description="The days the window opens on (mon, tue, wed, thu, fri, sat, sun)."
    )
    start: Annotated[str, AfterValidator(_clock)] = Field(description="When it opens, local time, HH:MM (e.g. 22:00).")
    end: Annotated[str, AfterValidator(_clock)] = Field(
        description="When it closes, local time, HH:MM; at or before start means the next day (22:00-06:00)."
    )

    @field_validator("days", mode="before")
    @classmethod
    def _lower_days(cls, value: Any) -> Any:
        return [d.strip().lower()[:3] if isinstance(d, str) else d for d in value] if isinstance(value, list) else value

    def as_times(self) -> tuple[tuple[str, ...], dt.time, dt.time]:
        """(days, start, end) as the lifecycle's window rules take them."""
        return tuple(self.days), dt.time.fromisoformat(self.start.zfill(5)), dt.time.fromisoformat(self.end.zfill(5))


class CutoverPolicy(_Section):
    """When and how cutover is allowed: inside declared windows, after a change ticket is approved."""

    time_zone: Annotated[str, AfterValidator(_time_zone)] = Field(
        default="UTC", description="The time zone the windows are in, as an IANA name (e.g. Europe/Paris)."
    )
    windows: list[CutoverWindow] = Field(
        default_factory=list,
        description="The weekly cutover windows. None declared: cutover is refused (declare at least one).",
    )
    approval_timeout_seconds: float = Field(
        default=3600, gt=0, description="How long a run paused in the UI for cutover approval waits before it fails."
    )


class LifecycleTimeouts(_Section):
    """How long a wave waits for Site Recovery to finish each part of a server's lifecycle. What is still
    on its way at the timeout is reported; a re-run picks it up."""

    enable_seconds: float = Field(default=1800, gt=0, description="Enable-replication jobs to finish.")
    initial_replication_seconds: float = Field(
        default=86400, gt=0, description="Initial replication to reach a recovery point (hours for large disks)."
    )
    test_failover_seconds: float = Field(default=3600, gt=0, description="Test migration and its cleanup jobs.")
    cutover_seconds: float = Field(default=3600, gt=0, description="Failover, commit and removal jobs.")
    poll_seconds: float = Field(
        default=30, gt=0, description="Pause between reads of the servers' replication state while waiting."
    )

    def for_kind(self, kind: str) -> float:
        """The timeout of a wait kind (plmigrate.lifecycle.WAIT_KIND)."""
        return float(getattr(self, f"{kind}_seconds"))


class TestNetwork(VnetRef):
    """The isolated VNet test migrations run in (not peered to the target VNets)."""

    subnet: SubnetName | None = Field(
        default=None,
        description=(
            "The subnet test VMs go in. Empty: the subnet of the same name as each server's target_subnet "
            "(an isolated VNet that mirrors production's layout)."
        ),
    )

    def subnet_for(self, target_subnet: str) -> SubnetRef:
        """The test subnet of a server whose target subnet is `target_subnet`."""
        return SubnetRef(
            resource_group=self.resource_group,
            vnet=self.vnet,
            subscription_id=self.subscription_id,
            subnet=self.subnet or target_subnet,
        )


class Migration(_Section):
    """What moving servers needs beyond the landing zone: the replication policy, the isolated test
    network, cutover windows and how long to wait for Site Recovery."""

    policy: SimpleName | None = Field(
        default=None,
        description=(
            "The InMageRcm replication policy servers are enabled with. Empty: the one the appliance's "
            "protection container is mapped to (appliance registration makes it); name one when several are."
        ),
    )
    test_network: TestNetwork = Field(
        description=(
            "The isolated VNet and subnet test migrations run in: never the production VNet, and not peered to "
            "it (a test VM on a connected network can rewrite AD DNS and break replication)."
        )
    )
    cutover: CutoverPolicy = Field(default_factory=CutoverPolicy, description="Cutover windows and approval.")
    timeouts: LifecycleTimeouts = Field(
        default_factory=LifecycleTimeouts, description="How long to wait for Site Recovery's jobs."
    )
    heartbeat_max_age_seconds: float = Field(
        default=900,
        gt=0,
        description="A process server whose last heartbeat is older than this is treated as unhealthy.",
    )


def _default_tags() -> dict[str, str]:
    return dict(DEFAULT_TAGS)


class BusinessUnit(_Section):
    """One business unit's landing zone: where the vault and private endpoints go, and what they serve."""

    name: SimpleName = Field(description="The business unit (e.g. finance); used in tags and run names.")
    subscription_id: Guid = Field(description="The subscription of the vault, endpoints and storage accounts.")
    tenant_id: Guid = Field(description="The Microsoft Entra tenant of the subscription.")
    region: str = Field(description="The Azure region of the vault and storage accounts, as ARM spells it (eastus).")
    resource_group: ResourceGroupName = Field(
        description="The resource group of the Recovery Services vault and its private endpoint."
    )
    vault_name: VaultName = Field(
        description="The Recovery Services vault's name (2-50 letters, digits or hyphens, starting with a letter)."
    )
    private_endpoint_subnet: SubnetRef = Field(
        description="The subnet the private endpoints are created in (reachable from on-prem over ExpressRoute/VPN)."
    )
    dns_zone_resource_group: ResourceGroupName = Field(
        description="The resource group of the private DNS zones (privatelink.siterecovery..., privatelink.blob...)."
    )
    dns_zone_links: list[VnetRef] = Field(
        default_factory=list,
        description=(
            "The VNets to link the private DNS zones to: at least the VNet of the DNS forwarder on-prem DNS "
            "forwards to. Empty means the private endpoint subnet's VNet."
        ),
    )
    appliances: list[Appliance] = Field(
        min_length=1, description="The replication appliances whose DNS view is verified (at least one)."
    )
    storage_accounts: list[StorageAccountRef] = Field(
        default_factory=list, description="The storage accounts servers replicate through (each name once)."
    )
    approval: ApprovalPolicy = Field(
        default_factory=ApprovalPolicy, description="What to do while a connection awaits the owner's approval."
    )
    timeouts: Timeouts = Field(
        default_factory=Timeouts, description="How long to wait for DNS, roles, each Azure operation and the whole run."
    )
    limits: Limits = Field(default_factory=Limits, description="Concurrency bounds.")
    migration: Migration | None = Field(
        default=None,
        description="Replication, test migration and cutover settings; needed to take a wave past 'ready'.",
    )
    tags: dict[str, str] = Field(
        default_factory=_default_tags,
        description="Tags put on every resource plmigrate creates; managed-by: plmigrate is always added.",
    )

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        normalized = normalize_region(region)
        if normalized in GEO_CODES:
            return normalized
        close = difflib.get_close_matches(normalized, GEO_CODES, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known regions: {', '.join(sorted(GEO_CODES))}"
        raise ValueError(f"unknown region {region!r} — use an ARM region name ({hint})")

    @field_validator("appliances")
    @classmethod
    def _unique_appliances(cls, appliances: list[Appliance]) -> list[Appliance]:
        what, fix, compare = _UNIQUE_LISTS["appliances"]
        _reject_duplicates([compare(a.name) for a in appliances], what, fix)
        return appliances

    @field_validator("storage_accounts")
    @classmethod
    def _unique_accounts(cls, accounts: list[StorageAccountRef]) -> list[StorageAccountRef]:
        what, fix, compare = _UNIQUE_LISTS["storage_accounts"]
        _reject_duplicates([compare(a.name) for a in accounts], what, fix)
        return accounts

    @field_validator("tags", mode="after")
    @classmethod
    def _merge_default_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if len(tags) > 50:
            raise ValueError(f"{len(tags)} tags — Azure allows at most 50 per resource")
        for key, value in tags.items():
            if not key or len(key) > 512 or _TAG_FORBIDDEN & set(key):
                raise ValueError(f"tag name {key!r} is invalid — use 1-512 characters without < > % & \\ ? /")
            if len(value) > 256:
                raise ValueError(f"tag {key!r} has a value longer than 256 characters — shorten it")
        return {**DEFAULT_TAGS, **tags}

    @model_validator(mode="after")
    def _run_outlasts_its_waits(self) -> BusinessUnit:
        given, waits = self.timeouts.run_seconds, self._waits_seconds()
        if given is not None and given <= waits:
            raise ValueError(
                f"timeouts.run_seconds ({given:g}) is not longer than the waits a run may do ({waits:g} s: approval"
                f"{' and migration stages' if self.migration is not None else ''}) — the run would time out while "
                "still waiting; raise run_seconds or leave it empty"
            )
        return self

    def _waits_seconds(self) -> float:
        """The longest a run may wait on people and Site Recovery: approval, and (a wave with a
        migration section) each lifecycle stage's timeout, the cutover approval and the wait for
        an appliance's registration."""
        waits = self.approval.timeout_seconds
        if self.migration is not None:
            t = self.migration.timeouts
            waits += t.enable_seconds + t.initial_replication_seconds + t.test_failover_seconds + t.cutover_seconds
            waits += self.migration.cutover.approval_timeout_seconds
            waits += self.approval.timeout_seconds  # a paused run waits for an appliance's registration
        return waits

    @property
    def run_timeout_seconds(self) -> float:
        """The flow run's deadline: timeouts.run_seconds, or every wait it may do plus 4 hours."""
        return self.timeouts.run_seconds if self.timeouts.run_seconds is not None else self._waits_seconds() + 4 * 3600

    @model_validator(mode="after")
    def _default_zone_links(self) -> BusinessUnit:
        if not self.dns_zone_links:
            # Bypass validate_assignment: re-running every validator here would recurse.
            object.__setattr__(self, "dns_zone_links", [self.private_endpoint_subnet.vnet_ref()])
        return self

    @field_validator("dns_zone_links")
    @classmethod
    def _unique_links(cls, links: list[VnetRef]) -> list[VnetRef]:
        # ARM names are case-insensitive; a link's subscription only matters when it names one.
        keys = [f"{link.subscription_id or ''}/{link.resource_group}/{link.vnet}".lower().lstrip("/") for link in links]
        _reject_duplicates(keys, "VNet", "link each VNet once")
        return links

    # -- derived values the tasks use ----------------------------------------------------------------------------------

    @property
    def landing_zone_resource_groups(self) -> list[str]:
        """The resource groups step 1 writes into, each once: the vault's (and its endpoints'),
        the DNS zones'."""
        return list(dict.fromkeys([self.resource_group, self.dns_zone_resource_group]))

    @property
    def vault_id(self) -> str:
        """The Recovery Services vault's ARM ID."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{self.vault_name}"
        )

    @property
    def private_endpoint_subnet_id(self) -> str:
        """The ARM ID of the subnet private endpoints go in."""
        return self.private_endpoint_subnet.subnet_id(self.subscription_id)

    def private_endpoint(self, resource_name: str, resource_id: str, group_id: str) -> dict[str, Any]:
        """The private endpoint this business unit wants for a resource (vault or storage account):
        the keyword arguments of tasks.network.ensure_private_endpoint."""
        return {
            "resource_group": self.resource_group,
            "name": endpoint_name(resource_name, group_id, resource_id),
            "location": self.region,
            "subnet_id": self.private_endpoint_subnet_id,
            "target_id": resource_id,
            "group_id": group_id,
            "tags": self.tags,
        }

    @property
    def zone_link_vnet_ids(self) -> list[str]:
        """The ARM IDs of the VNets the private DNS zones are linked to."""
        return [link.vnet_id(self.subscription_id) for link in self.dns_zone_links]

    def storage_account(self, name: str) -> StorageAccountRef:
        """The declared storage account of that name; KeyError when it is not declared."""
        for account in self.storage_accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    def storage_account_id(self, name: str) -> str:
        """The ARM ID of a declared storage account."""
        return self.storage_account(name).id(self.subscription_id)

    def appliance(self, name: str) -> Appliance:
        """The declared appliance of that name (case-insensitive); KeyError when it is not declared."""
        for appliance in self.appliances:
            if appliance.name.lower() == name.lower():
                return appliance
        raise KeyError(name)

    # -- loading -------------------------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: Any, source: str = "business unit") -> BusinessUnit:
        """Validate a mapping; InputError listing every problem (field path, what is wrong, the fix)."""
        if not isinstance(data, dict):
            raise InputError(
                [f"<top level>: expected a mapping of fields (name: ..., subscription_id: ...), got {_kind(data)}"],
                source,
            )
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = describe_validation_error(error, cls, data)
            problems += [p for p in _raw_duplicate_problems(data) if p not in problems]
            raise InputError(problems, source) from None

    @classmethod
    def load(cls, path: str | Path) -> BusinessUnit:
        """Read and validate a business-unit YAML file; InputError for anything unreadable or invalid."""
        path = Path(path)
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise InputError([f"<file>: cannot read it ({error.strerror or error}) — check the path"], source) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError([not_utf8_problem(raw, error)], source) from None
        try:
            data = load_yaml(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
            problem = getattr(error, "problem", None) or str(error)
            raise InputError([f"{where}: invalid YAML ({problem}) — fix the syntax"], source) from None
        except RecursionError:
            # PyYAML recurses once per nesting level; a business unit is never this deep.
            raise InputError(["<file>: nested too deeply to be a business unit — fix the file"], source) from None
        if data is None:
            raise InputError(["<file>: the file is empty — write the business unit's fields in it"], source)
        return cls.parse(data, source)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: PyYAML keeps the last one
    silently, so a setting written twice would quietly override the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice in one mapping (first on line {seen[key].line + 1}) — keep one",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML like yaml.safe_load, but refuse duplicate keys (yaml.YAMLError with the line)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects


def not_utf8_problem(raw: bytes, error: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8 (line and column, as an editor counts them) and what to do."""
    before = raw[: error.start]
    line = before.count(b"\n") + 1
    column = error.start - (before.rfind(b"\n") + 1) + 1
    return (
        f"line {line}, column {column}: not UTF-8 text (byte 0x{raw[error.start]:02x}) — save the file as UTF-8 "
        "(in most editors: Save with encoding → UTF-8; in Excel: 'CSV UTF-8')"
    )


def load_business_unit(path: str | Path) -> BusinessUnit:
    """Read and validate a business-unit YAML file; raises InputError listing every problem."""
    return BusinessUnit.load(path)


_UNIQUE_LISTS = {
    # field: (what, fix, how names compare)
    "appliances": ("appliance name", "give each appliance its own name", str.lower),
    "storage_accounts": ("storage account", "list each storage account once", str),
}


def _reject_duplicates(values: Sequence[str], what: str, fix: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r} (entries {seen[value] + 1} and {index + 1}) — {fix}")
        seen[value] = index


def _raw_duplicate_problems(data: dict[str, Any]) -> list[str]:
    """Duplicate names in the raw input, so they are reported even when another entry is invalid too."""
    problems = []
    for field, (what, fix, compare) in _UNIQUE_LISTS.items():
        items = data.get(field)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            key = compare(name.strip())
            if key in seen:
                problems.append(f"{field}: duplicate {what} {key!r} (entries {seen[key] + 1} and {index + 1}) — {fix}")
                break
            seen[key] = index
    return problems


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


# ---------------------------------------------------------------------------------------------------------------------
# Turning pydantic's errors into "field.path: what is wrong — fix" lines.

_FIXES = {
    "missing": "add it",
    "literal_error": "use one of those values",
    "string_type": "give it as text (quote it in YAML)",
    "bool_type": "use true or false",
    "bool_parsing": "use true or false",
    "int_type": "give a whole number",
    "int_parsing": "give a whole number",
    "int_from_float": "give a whole number",
    "float_type": "give a number",
    "float_parsing": "give a number",
    "list_type": "give a list (YAML '- item' lines or [a, b])",
    "dict_type": "give a mapping (key: value lines)",
    "model_type": "give a mapping of its fields",
    "model_attributes_type": "give a mapping of its fields",
    "too_short": "add at least the minimum number of entries",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
}


def describe_validation_error(
    error: ValidationError, root: type[BaseModel] | None = None, data: Any = None
) -> list[str]:
    """One "field.path: what is wrong — fix" line per pydantic error, without pydantic's URLs or tracebacks.

    `root` is the validated model; with it, an unknown field's fix lists the fields allowed there.
    `data` is the raw input: with it, a list entry is named by its `name` where it has one
    (`storage_accounts[stfincache01].role`), else counted from 1 as a person counts
    (`dns_zone_links[entry 2].vnet`).
    """
    lines = []
    for detail in error.errors(include_url=False):
        where = _format_loc(detail["loc"], data)
        kind = detail["type"]
        if kind in ("value_error", "assertion_error"):
            text = str(detail.get("ctx", {}).get("error", detail["msg"]))
            lines.append(f"{where}: {text}" if "—" in text else f"{where}: {text} — correct the value")
        elif kind == "missing":
            lines.append(f"{where}: required field is missing — add it")
        elif kind == "extra_forbidden":
            allowed = _allowed_fields(root, detail["loc"][:-1]) if root else []
            hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{where}: unknown field — remove it or correct its spelling{hint}")
        else:
            got = _short_repr(detail.get("input"))
            fix = _FIXES.get(kind, "correct the value")
            lines.append(f"{where}: {detail['msg']} (got {got}) — {fix}")
    return lines


def _format_loc(loc: tuple[int | str, ...], data: Any = None) -> str:
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            text += f"[{name.strip()}]" if isinstance(name, str) and name.strip() else f"[entry {part + 1}]"
            node = item
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text or "<top level>"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_fields(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the model found at `loc` under `root` (empty when it cannot be followed)."""
    annotation: Any = root
    for part in loc:
        model = _model_in(annotation)
        if isinstance(part, int):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if args else None
            continue
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
    model = _model_in(annotation)
    return list(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
