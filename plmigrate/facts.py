"""What plmigrate read back from Azure, as plain data that travels between Prefect tasks and ends
up in reports. Tasks build these from SDK models; rules and flows only ever see these."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from plmigrate.rules import AccountFacts


class VaultFacts(BaseModel):
    id: str
    name: str
    location: str
    principal_id: str
    written: bool = False  # whether this run changed the vault


class ConnectionFacts(BaseModel):
    """A private endpoint's connection to its target, as the endpoint sees it."""

    name: str
    status: str  # Pending | Approved | Rejected | Disconnected
    description: str = ""
    manual: bool = False


class EndpointFacts(BaseModel):
    id: str
    name: str
    resource_group: str
    target_id: str
    group_id: str
    subnet_id: str
    # FQDN -> private IPs, exactly as the endpoint's customDnsConfigs report them.
    dns: dict[str, list[str]] = Field(default_factory=dict)
    connection: ConnectionFacts
    written: bool = False


class RoleGrant(BaseModel):
    scope: str
    role_definition_id: str
    role_name: str
    assignment_id: str
    created: bool  # False: it already existed


class DnsCheck(BaseModel):
    fqdn: str
    nameserver: str
    got: list[str]
    expected: list[str]
    ok: bool
    problem: str | None = None


class ZoneId(str):
    """A private DNS zone's ARM ID as ensure_private_dns_zone returns it, marked with whether this
    run created the zone (in a dry run: would create it), so the report can say so. It is a str:
    everything that only needs the ID (zone groups, links) takes it unchanged."""

    written: bool

    def __new__(cls, value: str, written: bool = False) -> ZoneId:
        made = super().__new__(cls, value)
        made.written = written
        return made

    def __reduce__(self) -> tuple[type[ZoneId], tuple[str, bool]]:  # keep the mark through pickling
        return (ZoneId, (str(self), self.written))


@dataclass
class Inspection:
    """What the read-only checks before the first write found: the storage accounts' facts, and
    the names of those of the landing zone's resource groups that exist."""

    accounts: list[AccountFacts]
    resource_groups: frozenset[str]
